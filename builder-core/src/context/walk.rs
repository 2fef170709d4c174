//! The filtered, sorted, streaming walk of a context directory (fsutil's `filterFS.Walk`).
//!
//! Entries come in lexical byte order of their names, depth first, parents before children.
//! Symlinks are reported, never followed. An excluded directory is pruned only when no `!`
//! exception could re-include something beneath it; otherwise it is walked and emitted, with
//! its own metadata, just before the first entry beneath it that is included.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::ContextError;
use super::entry::{SelectedEntry, join_rel};
use super::patterns::{MatchInfo, PatternMatcher};

/// Characters that make a `!` exception a pattern rather than a plain path (fsutil).
const PATTERN_CHARS: &[char] = &['*', '[', ']', '?', '^'];

/// A pattern list applied during a walk, with fsutil's pruning rule.
#[derive(Debug, Clone)]
pub(crate) struct WalkFilter {
    matcher: PatternMatcher,
    /// Whether every exception is a plain path (so a directory can be pruned by prefix).
    only_prefix_exceptions: bool,
    /// Whether pruning is allowed at all (`.dockerignore` yes; COPY `--exclude` never prunes).
    prunes: bool,
}

/// What the filter says about one path.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// Excluded (not emitted unless something beneath is included).
    pub excluded: bool,
    /// For a directory: whether to walk into it.
    pub descend: bool,
    /// What to hand to the children.
    pub info: MatchInfo,
}

impl WalkFilter {
    /// A filter that prunes excluded directories when fsutil would.
    pub(crate) fn new(matcher: PatternMatcher, prunes: bool) -> Self {
        let only_prefix_exceptions = !matcher
            .patterns()
            .iter()
            .any(|p| p.is_exclusion() && without_trailing_glob(p.as_str()).contains(PATTERN_CHARS));
        WalkFilter {
            matcher,
            only_prefix_exceptions,
            prunes,
        }
    }

    /// The patterns.
    pub(crate) fn matcher(&self) -> &PatternMatcher {
        &self.matcher
    }

    /// The verdict for `rel` (relative to what the filter's patterns are relative to).
    pub(crate) fn judge(
        &self,
        rel: &str,
        is_dir: bool,
        parent: &MatchInfo,
    ) -> Result<Verdict, ContextError> {
        let (excluded, info) = self.matcher.matches_using_parent_results(rel, parent)?;
        let descend = is_dir && (!excluded || self.walks_into_excluded(rel));
        Ok(Verdict {
            excluded,
            descend,
            info,
        })
    }

    fn walks_into_excluded(&self, dir: &str) -> bool {
        if !self.prunes || !self.only_prefix_exceptions {
            return true;
        }
        if !self.matcher.has_exclusions() {
            return false;
        }
        let dir_slash = format!("{dir}/");
        self.matcher.patterns().iter().any(|p| {
            p.is_exclusion()
                && format!("{}/", without_trailing_glob(p.as_str())).starts_with(&dir_slash)
        })
    }

    /// The verdicts along `rel`'s path from the root: `None` when an ancestor directory is
    /// pruned, else the verdict for `rel` itself (`is_dir` says what `rel` is).
    pub(crate) fn judge_path(
        &self,
        rel: &str,
        is_dir: bool,
    ) -> Result<Option<Verdict>, ContextError> {
        let mut info = MatchInfo::default();
        let components: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let mut prefix = String::new();
        for (i, component) in components.iter().enumerate() {
            prefix = join_rel(&prefix, component);
            let last = i + 1 == components.len();
            let verdict = self.judge(&prefix, !last || is_dir, &info)?;
            if last {
                return Ok(Some(verdict));
            }
            if !verdict.descend {
                return Ok(None);
            }
            info = verdict.info;
        }
        Ok(Some(Verdict {
            excluded: false,
            descend: true,
            info,
        }))
    }
}

/// fsutil's `patternWithoutTrailingGlob`: `a/b/**` and `a/b/*` count as `a/b`.
fn without_trailing_glob(p: &str) -> &str {
    let p = p.strip_suffix("/**").unwrap_or(p);
    p.strip_suffix("/*").unwrap_or(p)
}

/// A streaming walk below one directory of the context; yields entries relative to it.
#[derive(Debug)]
pub struct Walk<'a> {
    /// `.dockerignore` (paths relative to the context root).
    ignore: Option<&'a WalkFilter>,
    /// COPY `--exclude` (paths relative to the walk start).
    exclude: Option<WalkFilter>,
    stack: Vec<Frame>,
    ready: VecDeque<SelectedEntry>,
    /// Set after an error: the walk is over.
    failed: bool,
}

/// What both filters say about one entry of a walk.
struct EntryVerdict {
    excluded: bool,
    descend: bool,
    ignore_info: MatchInfo,
    exclude_info: MatchInfo,
}

#[derive(Debug)]
struct Frame {
    /// Path relative to the context root, `/`-separated (lossy UTF-8, for matching).
    context_rel: String,
    /// Path relative to the walk start, `/`-separated (lossy UTF-8, for matching).
    start_rel: String,
    /// Real path relative to the walk start.
    rel_path: PathBuf,
    abs: PathBuf,
    names: Vec<OsString>,
    next: usize,
    ignore_info: MatchInfo,
    exclude_info: MatchInfo,
    /// This directory's entry while it is excluded and not yet emitted.
    pending: Option<SelectedEntry>,
}

impl<'a> Walk<'a> {
    /// A walk of directory `abs` (context-relative `context_rel`), whose own verdict under
    /// the ignore filter was `ignore_info`.
    pub(crate) fn new(
        abs: PathBuf,
        context_rel: String,
        ignore: Option<(&'a WalkFilter, MatchInfo)>,
        exclude: Option<WalkFilter>,
    ) -> Result<Self, ContextError> {
        let names = sorted_names(&abs)?;
        let (ignore, ignore_info) = match ignore {
            Some((f, info)) => (Some(f), info),
            None => (None, MatchInfo::default()),
        };
        Ok(Walk {
            ignore,
            exclude,
            stack: vec![Frame {
                context_rel,
                start_rel: String::new(),
                rel_path: PathBuf::new(),
                abs,
                names,
                next: 0,
                ignore_info,
                exclude_info: MatchInfo::default(),
                pending: None,
            }],
            ready: VecDeque::new(),
            failed: false,
        })
    }

    /// Skips what is left of directory `rel_path` (an entry this walk yielded).
    pub(crate) fn skip_dir(&mut self, rel_path: &Path) {
        if let Some(at) = self.stack.iter().position(|f| f.rel_path == rel_path) {
            self.stack.truncate(at);
        }
        self.ready
            .retain(|e| e.rel_path == rel_path || !e.rel_path.starts_with(rel_path));
    }

    /// Visits the next name of the top frame; `Ok(())` with nothing queued is possible.
    fn step(&mut self) -> Result<(), ContextError> {
        let Some(frame) = self.stack.last_mut() else {
            return Ok(());
        };
        let Some(name) = frame.names.get(frame.next).cloned() else {
            self.stack.pop();
            return Ok(());
        };
        frame.next += 1;
        let lossy = name.to_string_lossy();
        let context_rel = join_rel(&frame.context_rel, &lossy);
        let start_rel = join_rel(&frame.start_rel, &lossy);
        let rel_path = frame.rel_path.join(&name);
        let abs = frame.abs.join(&name);
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) => m,
            // Removed while walking: fsutil skips it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ContextError::io(abs, &e)),
        };
        let is_dir = meta.is_dir();
        let Some(verdict) = self.judge(&context_rel, &start_rel, is_dir)? else {
            return Ok(());
        };
        let EntryVerdict {
            excluded,
            descend,
            ignore_info,
            exclude_info,
        } = verdict;
        let entry = SelectedEntry::from_metadata(rel_path.clone(), abs.clone(), &meta)?;
        if !excluded {
            self.flush_pending();
            self.ready.push_back(entry.clone());
        }
        if descend {
            let names = match sorted_names(&abs) {
                Ok(names) => names,
                // fsutil skips unreadable directories that are excluded anyway.
                Err(ContextError::Io { kind, .. })
                    if excluded && kind == io::ErrorKind::PermissionDenied =>
                {
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            self.stack.push(Frame {
                context_rel,
                start_rel,
                rel_path,
                abs,
                names,
                next: 0,
                ignore_info,
                exclude_info,
                pending: excluded.then_some(entry),
            });
        }
        Ok(())
    }

    /// Both filters' verdict on a child of the top frame; `None` when it is skipped entirely.
    fn judge(
        &self,
        context_rel: &str,
        start_rel: &str,
        is_dir: bool,
    ) -> Result<Option<EntryVerdict>, ContextError> {
        let Some(frame) = self.stack.last() else {
            return Ok(None);
        };
        let mut verdict = EntryVerdict {
            excluded: false,
            descend: is_dir,
            ignore_info: MatchInfo::default(),
            exclude_info: MatchInfo::default(),
        };
        if let Some(filter) = self.ignore {
            let v = filter.judge(context_rel, is_dir, &frame.ignore_info)?;
            (verdict.excluded, verdict.descend, verdict.ignore_info) =
                (v.excluded, v.descend, v.info);
        }
        if verdict.excluded && !verdict.descend {
            return Ok(None);
        }
        if let Some(filter) = &self.exclude {
            let v = filter.judge(start_rel, is_dir, &frame.exclude_info)?;
            verdict.excluded |= v.excluded;
            verdict.descend &= v.descend;
            verdict.exclude_info = v.info;
        }
        Ok((!verdict.excluded || verdict.descend).then_some(verdict))
    }

    /// Emits the excluded ancestors of an included entry, outermost first.
    fn flush_pending(&mut self) {
        for frame in &mut self.stack {
            if let Some(entry) = frame.pending.take() {
                self.ready.push_back(entry);
            }
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<SelectedEntry, ContextError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Some(Ok(entry));
            }
            if self.failed || self.stack.is_empty() {
                return None;
            }
            if let Err(e) = self.step() {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}

/// The names in a directory, sorted by their bytes (Go's `os.ReadDir` order).
fn sorted_names(dir: &Path) -> Result<Vec<OsString>, ContextError> {
    let read = std::fs::read_dir(dir).map_err(|e| ContextError::io(dir, &e))?;
    let mut names = Vec::new();
    for entry in read {
        names.push(entry.map_err(|e| ContextError::io(dir, &e))?.file_name());
    }
    names.sort();
    Ok(names)
}
