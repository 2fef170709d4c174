//! `COPY --parents` sources with `**`: BuildKit copies the directory before the first wildcard
//! with the rest of the source as an include pattern, in which `**` spans any number of
//! directories (`src/**/*.txt` takes `src/a.txt` and `src/x/y/b.txt`). Plain source matching
//! (Go's `filepath.Match`) would read `**` as `*`, one level only.

use std::path::PathBuf;

use crate::context::{Context, PatternMatcher, SelectedRoot, Selection};
use crate::error::Result;

/// Whether `source` needs [`select_recursive`]: it has a `**` component.
pub(super) fn is_recursive(source: &str) -> bool {
    source.split('/').any(|c| c.contains("**"))
}

/// What a `--parents` source with `**` selects: each match below the base directory is a root
/// named by its path from the context root (a matched directory is taken whole).
pub(super) fn select_recursive(
    context: &Context,
    source: &str,
    excludes: &[String],
) -> Result<Selection> {
    let components: Vec<&str> = source
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let at = components
        .iter()
        .position(|c| c.contains(['*', '?', '[']))
        .unwrap_or(components.len());
    let base = components[..at].join("/");
    let pattern = components[at..].join("/");
    let whole = context.select(&format!("/{base}"), excludes)?;
    let matcher = PatternMatcher::new(&[pattern])?;
    let mut roots = Vec::new();
    for root in whole.roots {
        let prefix = root.matched_path.trim_matches('/').to_owned();
        let mut taken: Vec<PathBuf> = Vec::new();
        for entry in &root.entries {
            if taken.iter().any(|t| entry.rel_path.starts_with(t)) {
                continue;
            }
            let rel = entry.rel_path.to_string_lossy().into_owned();
            if !matcher.matches_exact(&rel)? {
                continue;
            }
            let below = root
                .entries
                .iter()
                .filter(|e| e.rel_path != entry.rel_path && e.rel_path.starts_with(&entry.rel_path))
                .map(|e| {
                    let mut e = e.clone();
                    e.rel_path = e
                        .rel_path
                        .strip_prefix(&entry.rel_path)
                        .map(PathBuf::from)
                        .unwrap_or_default();
                    e
                })
                .collect();
            if entry.is_dir() {
                taken.push(entry.rel_path.clone());
            }
            let matched_path = if prefix.is_empty() {
                rel
            } else {
                format!("{prefix}/{rel}")
            };
            let mut top = entry.clone();
            top.rel_path = PathBuf::new();
            roots.push(SelectedRoot {
                resolved_path: matched_path.clone(),
                matched_path,
                entry: top,
                entries: if entry.is_dir() { below } else { Vec::new() },
            });
        }
    }
    Ok(Selection {
        source: whole.source,
        roots,
    })
}
