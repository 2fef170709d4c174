//! Reading `.dockerignore`: a port of moby/patternmatcher `ignorefile.ReadAll`, and where
//! BuildKit looks for the file.

use std::path::{Path, PathBuf};

use super::gopath;

/// The patterns of an ignore file, as `ReadAll` returns them.
///
/// Lines starting with `#` are comments (checked before trimming); lines are trimmed and
/// empty ones skipped; a leading `!` marks an exception (space after it trimmed); the rest is
/// cleaned with `filepath.Clean` and one leading `/` dropped, so `/a` and `a` are the same.
/// A UTF-8 byte order mark on the first line is removed.
pub fn read_ignore_patterns(text: &[u8]) -> Vec<String> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut patterns = Vec::new();
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = String::from_utf8_lossy(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let is_exception = pattern.starts_with('!');
        if is_exception {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = gopath::clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if is_exception {
            cleaned.insert(0, '!');
        }
        patterns.push(cleaned);
    }
    patterns
}

/// The ignore file BuildKit uses: `<Dockerfile>.dockerignore` next to the Dockerfile when it
/// exists, else `<context>/.dockerignore`, else none.
pub fn find_ignore_file(root: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    if let Some(dockerfile) = dockerfile
        && let Some(name) = dockerfile.file_name()
    {
        let mut own = name.to_os_string();
        own.push(".dockerignore");
        let own = dockerfile.with_file_name(own);
        if own.is_file() {
            return Some(own);
        }
    }
    let shared = root.join(".dockerignore");
    shared.is_file().then_some(shared)
}
