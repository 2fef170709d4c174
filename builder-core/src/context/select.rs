//! COPY/ADD source selection: what a source names in the (filtered) context.
//!
//! BuildKit semantics: the context root is `/`, so `..` and absolute paths are clamped to it;
//! symlinks on the way to a source (and a source that is itself a symlink) are followed inside
//! the context; below a selected directory symlinks are kept as links. A source with wildcards
//! is split at its first wildcard component: the part before is resolved, the part after is
//! matched (Go `filepath.Match`) against paths below it, and a matched directory is taken whole.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;

use super::entry::{EntryKind, SelectedEntry, join_rel};
use super::patterns::PatternMatcher;
use super::walk::{Walk, WalkFilter};
use super::{Context, ContextError, gopath};

/// Symlinks followed while resolving one source before giving up (Linux's `ELOOP` limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// What one COPY/ADD source selected: one root per match, in sorted order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The source, cleaned and made absolute to the context root (`/src/*.txt`).
    pub source: String,
    /// The matched roots.
    pub roots: Vec<SelectedRoot>,
}

/// One matched source path and, for a directory, everything selected below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedRoot {
    /// The path that matched, relative to the context root (its last component names the
    /// copy at the destination).
    pub matched_path: String,
    /// The path after following symlinks inside the context.
    pub resolved_path: String,
    /// The root itself (`rel_path` empty).
    pub entry: SelectedEntry,
    /// For a directory: the entries below it, parents first, names in byte order, with
    /// `rel_path` relative to the root.
    pub entries: Vec<SelectedEntry>,
}

/// A source path resolved inside the context.
struct Resolved {
    rel: String,
    abs: PathBuf,
}

impl Context {
    /// Selects what `source` names, minus `.dockerignore`d paths and the `--exclude` patterns
    /// (matched relative to each selected root).
    pub fn select(&self, source: &str, excludes: &[String]) -> Result<Selection, ContextError> {
        let absolute = gopath::clean(&format!("/{source}"));
        let exclude = if excludes.is_empty() {
            None
        } else {
            Some(PatternMatcher::new(excludes)?)
        };
        let rel = absolute.trim_start_matches('/');
        let components: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let split = components
            .iter()
            .position(|c| gopath::contains_wildcards(c));
        let not_found = |escaped: bool| {
            if escaped {
                ContextError::EscapesContext {
                    path: absolute.clone(),
                }
            } else {
                ContextError::NotFound {
                    path: absolute.clone(),
                    is_wildcard: split.is_some(),
                }
            }
        };
        let matched = match split {
            None => vec![rel.to_string()],
            Some(at) => {
                let base = components[..at].join("/");
                let pattern = components[at..].join("/");
                let base = self.resolve(&base)?.map_err(not_found)?;
                self.match_wildcard(&base, &pattern)?
            }
        };
        let mut roots = Vec::with_capacity(matched.len());
        for matched_path in matched {
            if split.is_some()
                && let Some(m) = &exclude
                && m.matches_or_parent_matches(base_name(&matched_path))?
            {
                continue;
            }
            let resolved = self.resolve(&matched_path)?.map_err(not_found)?;
            roots.push(self.selected_root(matched_path, resolved, exclude.clone())?);
        }
        if roots.is_empty() {
            return Err(not_found(false));
        }
        Ok(Selection {
            source: absolute,
            roots,
        })
    }

    fn selected_root(
        &self,
        matched_path: String,
        resolved: Resolved,
        exclude: Option<PatternMatcher>,
    ) -> Result<SelectedRoot, ContextError> {
        let entry = SelectedEntry::lstat(PathBuf::new(), resolved.abs.clone())?;
        let mut entries = Vec::new();
        if entry.kind == EntryKind::Dir {
            let walk =
                self.walk_below(&resolved.rel, exclude.map(|m| WalkFilter::new(m, false)))?;
            for e in walk.into_iter().flatten() {
                entries.push(e?);
            }
        }
        Ok(SelectedRoot {
            matched_path,
            resolved_path: resolved.rel,
            entry,
            entries,
        })
    }

    /// Paths below `base` matching the wildcard `pattern` (relative to `base`), sorted.
    fn match_wildcard(&self, base: &Resolved, pattern: &str) -> Result<Vec<String>, ContextError> {
        let mut out = Vec::new();
        let is_dir = std::fs::symlink_metadata(&base.abs).is_ok_and(|m| m.is_dir());
        let Some(mut walk) = (if is_dir {
            self.walk_below(&base.rel, None)?
        } else {
            None
        }) else {
            return Ok(out);
        };
        // `*` and `?` never match `/`, a class can: no match is deeper than this.
        let max_depth = pattern.split('/').count() + pattern.matches('[').count();
        while let Some(entry) = walk.next() {
            let entry = entry?;
            let rel = entry.rel_path.to_string_lossy().into_owned();
            // BuildKit ignores a malformed pattern here: it matches nothing.
            if gopath::match_path(pattern, &rel).unwrap_or(false) {
                out.push(join_rel(&base.rel, &rel));
                if entry.is_dir() {
                    walk.skip_dir(&entry.rel_path);
                }
            } else if entry.is_dir() && rel.split('/').count() >= max_depth {
                walk.skip_dir(&entry.rel_path);
            }
        }
        Ok(out)
    }

    /// A walk of the directory `rel` as the filtered context shows it; `None` when `.dockerignore`
    /// prunes it.
    pub(crate) fn walk_below(
        &self,
        rel: &str,
        exclude: Option<WalkFilter>,
    ) -> Result<Option<Walk<'_>>, ContextError> {
        let abs = self.root.join(rel);
        let ignore = match &self.ignore {
            None => None,
            Some(filter) => match filter.judge_path(rel, true)? {
                None => return Ok(None),
                Some(v) if !v.descend => return Ok(None),
                Some(v) => Some((filter, v.info)),
            },
        };
        Walk::new(abs, rel.to_string(), ignore, exclude).map(Some)
    }

    /// Whether `rel` exists in the filtered context (a directory excluded by `.dockerignore`
    /// exists when something below it is re-included).
    fn is_visible(&self, rel: &str, is_dir: bool) -> Result<bool, ContextError> {
        let Some(filter) = &self.ignore else {
            return Ok(true);
        };
        match filter.judge_path(rel, is_dir)? {
            None => Ok(false),
            Some(v) if !v.excluded => Ok(true),
            Some(v) if is_dir && v.descend => match self.walk_below(rel, None)? {
                Some(mut walk) => Ok(walk.next().transpose()?.is_some()),
                None => Ok(false),
            },
            Some(_) => Ok(false),
        }
    }

    /// Resolves `rel` inside the context, following every symlink with the root as `/`.
    ///
    /// `Ok(Err(escaped))` when it does not exist in the filtered context; `escaped` tells that a
    /// symlink on the way pointed outside the root (and was clamped to it).
    fn resolve(&self, rel: &str) -> Result<Result<Resolved, bool>, ContextError> {
        let mut queue: VecDeque<String> = rel.split('/').map(str::to_string).collect();
        let mut current: Vec<String> = Vec::new();
        let (mut hops, mut escaped) = (0, false);
        while let Some(component) = queue.pop_front() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    escaped |= current.pop().is_none();
                    continue;
                }
                _ => {}
            }
            let candidate = join_rel(&current.join("/"), &component);
            let abs = self.root.join(&candidate);
            let meta = match std::fs::symlink_metadata(&abs) {
                Ok(m) => m,
                Err(e) if is_missing(&e) => return Ok(Err(escaped)),
                Err(e) => return Err(ContextError::io(abs, &e)),
            };
            if meta.file_type().is_symlink() {
                if !self.is_visible(&candidate, false)? {
                    return Ok(Err(escaped));
                }
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ContextError::SymlinkLoop {
                        path: format!("/{rel}"),
                    });
                }
                let target = std::fs::read_link(&abs).map_err(|e| ContextError::io(&abs, &e))?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    current.clear();
                    escaped = true;
                }
                for part in target.split('/').rev() {
                    queue.push_front(part.to_string());
                }
                continue;
            }
            if !queue.iter().all(|c| c.is_empty() || c == ".") && !meta.is_dir() {
                return Ok(Err(escaped));
            }
            current.push(component);
        }
        let rel = current.join("/");
        let abs = self.root.join(&rel);
        let is_dir = rel.is_empty()
            || std::fs::symlink_metadata(&abs)
                .map_err(|e| ContextError::io(&abs, &e))?
                .is_dir();
        if !rel.is_empty() && !self.is_visible(&rel, is_dir)? {
            return Ok(Err(escaped));
        }
        Ok(Ok(Resolved { rel, abs }))
    }
}

fn base_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory
}
