//! The build context: the directory COPY and ADD read from.
//!
//! * [`.dockerignore`](read_ignore_patterns) with Docker's exact rules ([`PatternMatcher`], a
//!   port of moby/patternmatcher); `<Dockerfile>.dockerignore` wins over `.dockerignore`.
//! * A [`Walk`] of the filtered context: sorted, streaming, never following symlinks.
//! * [`Context::select`]: what a COPY/ADD source names (wildcards, `--exclude`, symlinks
//!   followed inside the context with the root as `/`).
//! * [`Context::checksum`]: a content digest of a selection that ignores mtime and ownership,
//!   with file digests cached by stat data in a [`StatCache`] so an unchanged context is not
//!   read again.
//!
//! ```no_run
//! use builder_core::context::Context;
//! # fn main() -> Result<(), builder_core::context::ContextError> {
//! let context = Context::open("app".as_ref(), Some("app/Dockerfile".as_ref()), None)?;
//! let selection = context.select("src/*.rs", &[])?;
//! let digest = context.checksum(&selection)?;
//! println!("{} roots, {digest}", selection.roots.len());
//! # Ok(())
//! # }
//! ```

mod checksum;
mod entry;
mod error;
mod gopath;
mod ignore_file;
mod patterns;
mod select;
mod stat_cache;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use checksum::ChecksumStats;
pub use entry::{EntryKind, SelectedEntry};
pub use error::ContextError;
pub use ignore_file::{find_ignore_file, read_ignore_patterns};
pub use patterns::{MatchInfo, Pattern, PatternMatcher, matches, matches_or_parent_matches};
pub use select::{SelectedRoot, Selection};
pub use stat_cache::StatCache;
pub use walk::Walk;

use walk::WalkFilter;

/// An opened build context: its root, its ignore rules and its stat cache.
#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    ignore_file: Option<PathBuf>,
    ignore: Option<WalkFilter>,
    cache: Mutex<StatCache>,
    stats: checksum::Counters,
}

impl Context {
    /// Opens the context at `root`, reading `<dockerfile>.dockerignore` or
    /// `<root>/.dockerignore`, and the stat cache kept in `stat_cache_dir` (none: no caching
    /// across contexts).
    pub fn open(
        root: &Path,
        dockerfile: Option<&Path>,
        stat_cache_dir: Option<&Path>,
    ) -> Result<Context, ContextError> {
        let root = std::fs::canonicalize(root).map_err(|e| ContextError::io(root, &e))?;
        if !root.is_dir() {
            return Err(ContextError::NotADirectory { path: root });
        }
        let ignore_file = find_ignore_file(&root, dockerfile);
        let ignore = match &ignore_file {
            None => None,
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| ContextError::io(path, &e))?;
                let patterns = read_ignore_patterns(&text);
                if patterns.is_empty() {
                    None
                } else {
                    Some(WalkFilter::new(PatternMatcher::new(&patterns)?, true))
                }
            }
        };
        let cache = match stat_cache_dir {
            Some(dir) => StatCache::load(dir),
            None => StatCache::in_memory(),
        };
        Ok(Context {
            root,
            ignore_file,
            ignore,
            cache: Mutex::new(cache),
            stats: checksum::Counters::default(),
        })
    }

    /// Opens a directory tree with no ignore rules (an earlier stage's filesystem, for
    /// `COPY --from`): a `.dockerignore` inside it is just a file.
    pub fn open_tree(root: &Path) -> Result<Context, ContextError> {
        let root = std::fs::canonicalize(root).map_err(|e| ContextError::io(root, &e))?;
        if !root.is_dir() {
            return Err(ContextError::NotADirectory { path: root });
        }
        Ok(Context {
            root,
            ignore_file: None,
            ignore: None,
            cache: Mutex::new(StatCache::in_memory()),
            stats: checksum::Counters::default(),
        })
    }

    /// The context directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in effect, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// Whether `.dockerignore` excludes `rel` (a `/`-separated path relative to the root),
    /// as `MatchesOrParentMatches` decides.
    pub fn is_ignored(&self, rel: &str) -> Result<bool, ContextError> {
        match &self.ignore {
            None => Ok(false),
            Some(filter) => filter.matcher().matches_or_parent_matches(rel),
        }
    }

    /// Walks the whole filtered context; entries are relative to the root.
    pub fn walk(&self) -> Result<Walk<'_>, ContextError> {
        let ignore = self.ignore.as_ref().map(|f| (f, MatchInfo::default()));
        Walk::new(self.root.clone(), String::new(), ignore, None)
    }
}
