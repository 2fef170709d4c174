//! `COPY`: what the sources select, where they land, and writing them into a diff.
//!
//! Docker's destination rules: a destination ending in `/` (or `.`) or naming a directory that
//! exists is a directory, and each source lands inside it under its own name; otherwise the
//! destination names the copy. A directory source copies its contents. Several sources need a
//! directory destination ending in `/`. A relative destination is taken against `WORKDIR`;
//! symlinks the image has on the way (the last component included) are followed inside it.
//! Copies are owned by `root:root` unless `--chown` says otherwise (names resolved in the
//! stage's `/etc/passwd` and `/etc/group`); directories the copy creates on the way to the
//! destination get that owner too, existing ones keep theirs (BuildKit's `MkdirAll`).
//!
//! `--parents` keeps each source's path relative to the context root, or to a `/./` pivot in
//! the source (`a/./b/c` lands as `<dest>/b/c`); the directories on the way keep the source
//! directories' metadata. `ADD` sets `unpack`: a local file that is a tar archive (plain,
//! gzip, bzip2, xz or zstd, found by content) is extracted into the destination directory.

use std::cell::Cell;
use std::path::Path;

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};

use super::diff::{DiffDir, FileSource, Meta, image_components, resolve_in_image};
use super::owner::resolve_chown;
use super::{CacheKey, CopySource, ExecError, KeyInput};
use super::{archive, parents};
use crate::context::{Context, EntryKind, SelectedEntry, SelectedRoot, Selection};
use crate::error::Result;
use crate::instructions::{Chmod, ChmodSpec, CopySpec, InlineSource};

/// Where a `COPY` reads from.
#[derive(Debug)]
pub(super) enum CopyOrigin<'a> {
    /// The build context.
    Context(&'a Context),
    /// An earlier stage: its filesystem opened as a context, and its state key.
    Stage(&'a Context, &'a CacheKey),
    /// Files fetched for `ADD` (a download, a git checkout) opened as a context, and what
    /// identifies their content in the key.
    Remote(&'a Context, CopySource<'a>),
}

impl<'a> CopyOrigin<'a> {
    /// The files this origin reads, as a context.
    pub(super) fn context(&self) -> &'a Context {
        match self {
            CopyOrigin::Context(c) | CopyOrigin::Stage(c, _) | CopyOrigin::Remote(c, _) => c,
        }
    }
}

/// A `COPY` with its sources selected and its destination resolved.
#[derive(Debug)]
pub(super) struct PreparedCopy<'a> {
    origin: CopyOrigin<'a>,
    spec: &'a CopySpec,
    selections: Vec<Selection>,
    dest: String,
    /// The destination is a directory whatever the stage holds (`dir/`, several sources,
    /// `--parents`); otherwise it is one if the stage has a directory there, looked at when
    /// writing.
    dest_written_as_dir: bool,
    /// `--chown` resolved in the stage's files when writing (so a cache hit reads none).
    owner: Cell<Option<(u32, u32)>>,
    chmod: Option<Chmod>,
    parents: bool,
    unpack: bool,
}

/// `--chown` as numeric ids when it holds no name (`uid`, `uid:gid`); `None` for a name.
fn numeric_owner(spec: &str) -> Option<(u32, u32)> {
    let (user, group) = spec.split_once(':').unwrap_or((spec, spec));
    Some((user.parse().ok()?, group.parse().ok()?))
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

/// The components before the last `/./` of a `--parents` source: what is left out of the
/// destination path (none without a pivot: the path from the root is kept).
fn parents_pivot(raw: &str) -> Vec<String> {
    let padded = format!("/{raw}");
    match padded.rfind("/./") {
        Some(at) => image_components(&padded[..at]),
        None => Vec::new(),
    }
}

impl<'a> PreparedCopy<'a> {
    /// Selects the sources of `spec` in `origin` and resolves its destination against
    /// `workdir` (the stage's filesystem is looked at only by [`Self::write`], so a cache hit
    /// needs none). `parents`: `--parents` (sources keep their path from the context root or
    /// a `/./` pivot; the destination is a directory).
    pub(super) fn new(
        spec: &'a CopySpec,
        origin: CopyOrigin<'a>,
        workdir: &str,
        parents: bool,
    ) -> Result<Self> {
        let chmod = match &spec.chmod {
            None => None,
            Some(ChmodSpec::Parsed(c)) => Some(c.clone()),
            Some(ChmodSpec::Unexpanded(s)) => Some(Chmod::parse(s)?),
        };
        let context = match origin {
            CopyOrigin::Context(c) | CopyOrigin::Stage(c, _) | CopyOrigin::Remote(c, _) => c,
        };
        let mut selections = Vec::new();
        for source in &spec.sources {
            let selection = if parents && parents::is_recursive(source) {
                parents::select_recursive(context, source, &spec.excludes)?
            } else {
                context.select(source, &spec.excludes)?
            };
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
        let dest_written_as_dir = parents || written_as_dir || matches + spec.inline.len() > 1;
        Ok(PreparedCopy {
            origin,
            spec,
            selections,
            dest,
            dest_written_as_dir,
            owner: Cell::new(None),
            chmod,
            parents,
            unpack: false,
        })
    }

    /// `ADD`: local tar archives are extracted into the destination.
    pub(super) fn with_unpack(mut self, unpack: bool) -> Self {
        self.unpack = unpack;
        self
    }

    /// Part of an `ADD` with several sources: the destination is a directory.
    pub(super) fn into_dir_dest(mut self) -> Self {
        self.dest_written_as_dir = true;
        self
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
        let source = match &self.origin {
            CopyOrigin::Remote(_, source) => source.clone(),
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
            owner: self.spec.chown.as_deref().and_then(numeric_owner),
            chown_name: self
                .spec
                .chown
                .as_deref()
                .filter(|c| numeric_owner(c).is_none()),
            chmod: chmod.as_deref(),
            link: self.spec.link,
            parents: self.parents,
            unpack: self.unpack,
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
        let rootfs = diff.rootfs().to_owned();
        let owner = match self.spec.chown.as_deref() {
            Some(chown) => Some(resolve_chown(&rootfs, chown)?),
            None => None,
        };
        self.owner.set(owner);
        diff.set_new_parent_owner(owner.unwrap_or((0, 0)));
        // Symlinks the image has on the way to the destination are followed inside it.
        let dest = resolve_in_image(&rootfs, &self.dest);
        let dest_is_dir = self.dest_written_as_dir || diff.is_existing_dir(&dest);
        for (selection, raw) in self.selections.iter().zip(&self.spec.sources) {
            for root in &selection.roots {
                let mut target = dest.clone();
                if self.parents {
                    self.put_parents(diff, &mut target, raw, &root.matched_path)?;
                }
                if root.entry.is_dir() {
                    self.put_dir_root(diff, &target, root)?;
                    continue;
                }
                if self.unpack
                    && root.entry.kind == EntryKind::File
                    && archive::is_archive(&root.entry.abs_path)?
                {
                    diff.ensure_dirs(&dest)?;
                    archive::extract(&root.entry.abs_path, diff, &dest, owner)?;
                    continue;
                }
                if dest_is_dir && !self.parents {
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

    /// A directory's contents are copied: an existing destination keeps its metadata; a new
    /// one takes the source directory's.
    fn put_dir_root(
        &self,
        diff: &mut DiffDir,
        target: &[String],
        root: &SelectedRoot,
    ) -> Result<(), ExecError> {
        if diff.is_existing_dir(target) {
            diff.ensure_dirs(target)?;
        } else {
            diff.ensure_parents(target)?;
            self.put_entry(diff, target, &root.entry)?;
        }
        for entry in &root.entries {
            let mut path = target.to_vec();
            path.extend(image_components(&entry.rel_path.to_string_lossy()));
            self.put_entry(diff, &path, entry)?;
        }
        Ok(())
    }

    /// `--parents`: extends `target` with the matched path below the pivot, writing the
    /// directories on the way with the source directories' metadata.
    fn put_parents(
        &self,
        diff: &mut DiffDir,
        target: &mut Vec<String>,
        raw: &str,
        matched: &str,
    ) -> Result<(), ExecError> {
        let pivot = parents_pivot(raw);
        let matched = image_components(matched);
        let kept = matched.get(pivot.len()..).unwrap_or_default();
        let base = self.origin_root();
        diff.ensure_dirs(target)?;
        for depth in 0..kept.len() {
            target.push(kept[depth].clone());
            if depth + 1 == kept.len() || diff.has_entry(target) {
                continue;
            }
            let mut host = base.to_owned();
            host.extend(&matched[..pivot.len() + depth + 1]);
            match std::fs::metadata(&host) {
                Ok(m) if m.is_dir() && !diff.is_existing_dir(target) => {
                    use std::os::unix::fs::MetadataExt;
                    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
                    diff.put_dir(target, self.meta(m.mode() & 0o7777, true, mtime))?;
                }
                _ => diff.ensure_dirs(target)?,
            }
        }
        Ok(())
    }

    fn origin_root(&self) -> &Path {
        match &self.origin {
            CopyOrigin::Context(c) | CopyOrigin::Stage(c, _) | CopyOrigin::Remote(c, _) => c.root(),
        }
    }

    fn meta(&self, mode: u32, is_dir: bool, mtime_ns: i128) -> Meta {
        let (uid, gid) = self.owner.get().unwrap_or((0, 0));
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
            EntryKind::File => {
                let source = FileSource {
                    path: &entry.abs_path,
                    dev: entry.dev,
                    ino: entry.ino,
                    nlink: entry.nlink,
                };
                diff.put_file(path, &source, meta)
            }
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
    use super::{parents_pivot, resolve_dest};

    #[test]
    fn destinations_resolve_against_the_workdir() {
        assert_eq!(resolve_dest("b", "/srv"), ("/srv/b".into(), false));
        assert_eq!(resolve_dest("b/", "/srv"), ("/srv/b".into(), true));
        assert_eq!(resolve_dest(".", "/srv"), ("/srv".into(), true));
        assert_eq!(resolve_dest("/x/../y", "/srv"), ("/y".into(), false));
        assert_eq!(resolve_dest("../../..", ""), ("/".into(), false));
    }

    #[test]
    fn parents_pivot_is_the_part_before_slash_dot_slash() {
        assert_eq!(parents_pivot("a/b/c"), Vec::<String>::new());
        assert_eq!(parents_pivot("/test/a/b/./c/d"), ["test", "a", "b"]);
        assert_eq!(parents_pivot("./x/./y"), ["x"]);
        assert_eq!(parents_pivot("x/."), Vec::<String>::new());
    }
}
