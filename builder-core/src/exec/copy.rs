//! `COPY`: what the sources select, where they land, and writing them into a diff.
//!
//! Docker's destination rules: a destination ending in `/` (or `.`) or naming a directory that
//! exists is a directory, and each source lands inside it under its own name; otherwise the
//! destination names the copy. A directory source copies its contents. Several sources need a
//! directory destination ending in `/`. A relative destination is taken against `WORKDIR`.
//! Copies are owned by `root:root` unless `--chown` says otherwise.

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};

use super::diff::{DiffDir, Meta, image_components};
use super::{CacheKey, CopySource, ExecError, KeyInput};
use crate::context::{Context, EntryKind, SelectedEntry, Selection};
use crate::error::Result;
use crate::instructions::{Chmod, ChmodSpec, CopySpec, InlineSource};

/// Where a `COPY` reads from.
#[derive(Debug)]
pub(super) enum CopyOrigin<'a> {
    /// The build context.
    Context(&'a Context),
    /// An earlier stage: its filesystem opened as a context, and its state key.
    Stage(&'a Context, &'a CacheKey),
}

/// A `COPY` with its sources selected and its destination resolved.
#[derive(Debug)]
pub(super) struct PreparedCopy<'a> {
    origin: CopyOrigin<'a>,
    spec: &'a CopySpec,
    selections: Vec<Selection>,
    dest: String,
    /// The destination is a directory whatever the stage holds (`dir/`, several sources);
    /// otherwise it is one if the stage has a directory there, looked at when writing.
    dest_written_as_dir: bool,
    owner: Option<(u32, u32)>,
    chmod: Option<Chmod>,
}

/// Parses `--chown` in this slice: numeric `uid[:gid]` only (a lone uid is also the gid).
fn numeric_owner(value: &str) -> Result<(u32, u32), ExecError> {
    let (user, group) = value.split_once(':').unwrap_or((value, value));
    match (user.parse(), group.parse()) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        _ => Err(ExecError::UnsupportedChownName {
            value: value.to_owned(),
        }),
    }
}

/// The destination made absolute against `workdir` and cleaned, and whether it was written as
/// a directory (`dir/`, `.`, `dir/.`).
fn resolve_dest(raw: &str, workdir: &str) -> (String, bool) {
    let dest = if raw.starts_with('/') {
        raw.to_owned()
    } else {
        format!("{}/{raw}", if workdir.is_empty() { "/" } else { workdir })
    };
    let written_as_dir = raw.ends_with('/') || raw == "." || raw.ends_with("/.");
    (
        format!("/{}", image_components(&dest).join("/")),
        written_as_dir,
    )
}

impl<'a> PreparedCopy<'a> {
    /// Selects the sources of `spec` in `origin` and resolves its destination against
    /// `workdir` (the stage's filesystem is looked at only by [`Self::write`], so a cache hit
    /// needs none).
    pub(super) fn new(spec: &'a CopySpec, origin: CopyOrigin<'a>, workdir: &str) -> Result<Self> {
        let owner = spec.chown.as_deref().map(numeric_owner).transpose()?;
        let chmod = match &spec.chmod {
            None => None,
            Some(ChmodSpec::Parsed(c)) => Some(c.clone()),
            Some(ChmodSpec::Unexpanded(s)) => Some(Chmod::parse(s)?),
        };
        let context = match origin {
            CopyOrigin::Context(c) | CopyOrigin::Stage(c, _) => c,
        };
        let mut selections = Vec::new();
        for source in &spec.sources {
            let selection = context.select(source, &spec.excludes)?;
            if selection.roots.is_empty() {
                return Err(ExecError::NoMatch {
                    pattern: source.clone(),
                }
                .into());
            }
            selections.push(selection);
        }
        let raw = spec.dest.as_str();
        let (dest, written_as_dir) = resolve_dest(raw, workdir);
        let count = spec.sources.len() + spec.inline.len();
        if count > 1 && !written_as_dir {
            return Err(ExecError::DestinationNotDirectory {
                dest: raw.to_owned(),
            }
            .into());
        }
        let matches: usize = selections.iter().map(|s| s.roots.len()).sum();
        let dest_written_as_dir = written_as_dir || matches + spec.inline.len() > 1;
        Ok(PreparedCopy {
            origin,
            spec,
            selections,
            dest,
            dest_written_as_dir,
            owner,
            chmod,
        })
    }

    /// The cache key of this copy onto the state `parent`.
    pub(super) fn key(&self, parent: &CacheKey) -> Result<CacheKey> {
        let inline: Vec<(String, String)> = self
            .spec
            .inline
            .iter()
            .map(|i| {
                let digest = Digest::sha256_of(i.content.as_bytes());
                (i.name.clone(), digest.as_str().to_owned())
            })
            .collect();
        let checksum;
        let source = match self.origin {
            CopyOrigin::Stage(_, key) => CopySource::State {
                key: key.digest().as_str(),
                paths: &self.spec.sources,
            },
            CopyOrigin::Context(_) if self.selections.is_empty() => {
                CopySource::Inline { files: &inline }
            }
            CopyOrigin::Context(context) => {
                checksum = self.context_checksum(context, &inline)?;
                CopySource::Context {
                    checksum: checksum.as_str(),
                }
            }
        };
        let dest = if self.dest_written_as_dir && self.dest != "/" {
            format!("{}/", self.dest)
        } else {
            self.dest.clone()
        };
        let chmod = self.chmod.as_ref().map(ToString::to_string);
        Ok(KeyInput::Copy {
            parent: parent.digest().as_str(),
            source,
            dest: &dest,
            owner: self.owner,
            chmod: chmod.as_deref(),
            link: self.spec.link,
            parents: false,
            unpack: false,
        }
        .key())
    }

    /// One digest over every selection's checksum and every heredoc file.
    fn context_checksum(&self, context: &Context, inline: &[(String, String)]) -> Result<Digest> {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        for selection in &self.selections {
            let checksum = context.checksum(selection)?;
            hasher.update(format!("source {:?} {checksum}\n", selection.source).as_bytes());
        }
        for (name, digest) in inline {
            hasher.update(format!("inline {name:?} {digest}\n").as_bytes());
        }
        Ok(hasher.finish())
    }

    /// Writes the copied files into `diff`.
    pub(super) fn write(&self, diff: &mut DiffDir) -> Result<(), ExecError> {
        let dest = image_components(&self.dest);
        let dest_is_dir = self.dest_written_as_dir || diff.is_existing_dir(&dest);
        for selection in &self.selections {
            for root in &selection.roots {
                let mut target = dest.clone();
                if root.entry.is_dir() {
                    // A directory's contents are copied: an existing destination keeps its
                    // metadata; a new one takes the source directory's.
                    if diff.is_existing_dir(&target) {
                        diff.ensure_dirs(&target)?;
                    } else {
                        diff.ensure_parents(&target)?;
                        self.put_entry(diff, &target, &root.entry)?;
                    }
                    for entry in &root.entries {
                        let mut path = target.clone();
                        path.extend(image_components(&entry.rel_path.to_string_lossy()));
                        self.put_entry(diff, &path, entry)?;
                    }
                    continue;
                }
                if dest_is_dir {
                    target.extend(image_components(&root.matched_path).pop());
                }
                diff.ensure_parents(&target)?;
                self.put_entry(diff, &target, &root.entry)?;
            }
        }
        for inline in &self.spec.inline {
            self.put_inline(diff, &dest, dest_is_dir, inline)?;
        }
        Ok(())
    }

    fn meta(&self, mode: u32, is_dir: bool, mtime_ns: i128) -> Meta {
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        let mode = match &self.chmod {
            Some(chmod) => chmod.apply(mode, is_dir),
            None => mode,
        };
        Meta {
            mode,
            uid,
            gid,
            mtime_ns,
        }
    }

    fn put_entry(
        &self,
        diff: &mut DiffDir,
        path: &[String],
        entry: &SelectedEntry,
    ) -> Result<(), ExecError> {
        let meta = self.meta(entry.mode, entry.is_dir(), entry.mtime_ns);
        match &entry.kind {
            EntryKind::File => diff.put_file(path, &entry.abs_path, meta),
            EntryKind::Dir => diff.put_dir(path, meta),
            EntryKind::Symlink(target) => diff.put_symlink(path, target, meta),
            EntryKind::Other => Err(ExecError::UnsupportedFileType {
                path: entry.abs_path.clone(),
            }),
        }
    }

    /// A heredoc file: mode 0644 (before `--chmod`), mtime 0 so the layer is reproducible.
    fn put_inline(
        &self,
        diff: &mut DiffDir,
        dest: &[String],
        dest_is_dir: bool,
        inline: &InlineSource,
    ) -> Result<(), ExecError> {
        let mut target = dest.to_vec();
        if dest_is_dir {
            target.extend(image_components(&inline.name).pop());
        }
        diff.ensure_parents(&target)?;
        let meta = self.meta(0o644, false, 0);
        diff.put_bytes(&target, inline.content.as_bytes(), meta)
    }
}

#[cfg(test)]
mod tests {
    use super::{numeric_owner, resolve_dest};

    #[test]
    fn destinations_resolve_against_the_workdir() {
        assert_eq!(resolve_dest("b", "/srv"), ("/srv/b".into(), false));
        assert_eq!(resolve_dest("b/", "/srv"), ("/srv/b".into(), true));
        assert_eq!(resolve_dest(".", "/srv"), ("/srv".into(), true));
        assert_eq!(resolve_dest("/x/../y", "/srv"), ("/y".into(), false));
        assert_eq!(resolve_dest("../../..", ""), ("/".into(), false));
    }

    #[test]
    fn chown_is_numeric_in_this_slice() {
        assert_eq!(numeric_owner("10").unwrap(), (10, 10));
        assert_eq!(numeric_owner("10:20").unwrap(), (10, 20));
        assert!(numeric_owner("app").is_err());
        assert!(numeric_owner("10:staff").is_err());
    }
}
