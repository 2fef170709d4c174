//! `.dockerignore` / `--exclude` matching: a port of moby/patternmatcher.
//!
//! Each pattern is cleaned (`filepath.Clean`), validated with `filepath.Match`, then compiled
//! the way patternmatcher does: a plain string compare when it has no wildcard, a prefix
//! compare for `dir/**`, a suffix compare for `**/name`, otherwise a regular expression in which
//! `*` and `?` never cross `/` and `**` spans any number of directories. Patterns apply in
//! order and the last one that matches wins; a `!` pattern re-includes.

use regex::Regex;

use super::ContextError;
use super::gopath;

/// An ordered list of Docker ignore patterns, compiled.
#[derive(Debug, Clone)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    has_exclusions: bool,
}

/// One compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    is_exclusion: bool,
    dirs: usize,
    how: HowToMatch,
}

/// The matching strategy patternmatcher picks for a pattern.
#[derive(Debug, Clone)]
enum HowToMatch {
    Exact,
    Prefix,
    Suffix,
    Regex(Regex),
    /// The pattern passed `filepath.Match` but its regular expression does not compile; Go
    /// reports this only when the pattern is evaluated, and so do we.
    Broken,
}

/// What matching a directory told about each pattern, handed to its children
/// ([`PatternMatcher::matches_using_parent_results`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

impl PatternMatcher {
    /// Compiles `patterns` in order (whitespace trimmed, empty ones skipped, `!` = exception).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, ContextError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        let mut has_exclusions = false;
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut p = gopath::clean(trimmed);
            let is_exclusion = p.starts_with('!');
            if is_exclusion {
                if p.len() == 1 {
                    return Err(ContextError::BadPattern {
                        pattern: raw.as_ref().to_string(),
                        reason: "illegal exclusion pattern: \"!\"",
                    });
                }
                p.remove(0);
                has_exclusions = true;
            }
            if gopath::match_path(&p, ".").is_err() {
                return Err(bad_pattern(raw.as_ref()));
            }
            compiled.push(Pattern::compile(p, is_exclusion));
        }
        Ok(PatternMatcher {
            patterns: compiled,
            has_exclusions,
        })
    }

    /// The compiled patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exclusions(&self) -> bool {
        self.has_exclusions
    }

    /// Whether `file` or one of its parent directories is excluded (what `docker build` uses).
    pub fn matches_or_parent_matches(&self, file: &str) -> Result<bool, ContextError> {
        self.evaluate(file, Parents::All)
    }

    /// Like [`matches_or_parent_matches`](Self::matches_or_parent_matches) but only the
    /// parent at the pattern's own depth is tried (patternmatcher's deprecated `Matches`).
    pub fn matches(&self, file: &str) -> Result<bool, ContextError> {
        self.evaluate(file, Parents::AtPatternDepth)
    }

    /// Whether `file` itself matches, with no parent matching.
    pub fn matches_exact(&self, file: &str) -> Result<bool, ContextError> {
        self.evaluate(file, Parents::None)
    }

    /// Matches `file` reusing what its parent directory's match recorded; with a default
    /// `parent` it behaves like [`matches_or_parent_matches`](Self::matches_or_parent_matches).
    /// This is what a walk from the root uses.
    pub fn matches_using_parent_results(
        &self,
        file: &str,
        parent: &MatchInfo,
    ) -> Result<(bool, MatchInfo), ContextError> {
        let inherited = &parent.parent_matched;
        if !inherited.is_empty() && inherited.len() != self.patterns.len() {
            return Err(ContextError::MatchInfoMismatch);
        }
        let mut matched = false;
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = inherited.get(i).copied().unwrap_or(false);
            if !hit {
                if pattern.is_exclusion != matched {
                    continue;
                }
                hit = pattern.is_match(file)?;
                if !hit && inherited.is_empty() {
                    hit = pattern.matches_a_parent(file, Parents::All);
                }
            }
            info.parent_matched[i] = hit;
            if hit {
                matched = !pattern.is_exclusion;
            }
        }
        Ok((matched, info))
    }

    fn evaluate(&self, file: &str, parents: Parents) -> Result<bool, ContextError> {
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion cannot change an already excluded path, nor an exception an
            // included one.
            if pattern.is_exclusion != matched {
                continue;
            }
            let hit = pattern.is_match(file)? || pattern.matches_a_parent(file, parents);
            if hit {
                matched = !pattern.is_exclusion;
            }
        }
        Ok(matched)
    }
}

/// Which parent directories of a path a pattern is also tried against.
#[derive(Debug, Clone, Copy)]
enum Parents {
    None,
    AtPatternDepth,
    All,
}

impl Pattern {
    /// The cleaned pattern text, without its `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` exception.
    pub fn is_exclusion(&self) -> bool {
        self.is_exclusion
    }

    fn compile(cleaned: String, is_exclusion: bool) -> Pattern {
        let dirs = cleaned.split('/').count();
        let how = compile_how(&cleaned);
        Pattern {
            cleaned,
            is_exclusion,
            dirs,
            how,
        }
    }

    fn is_match(&self, path: &str) -> Result<bool, ContextError> {
        Ok(match &self.how {
            HowToMatch::Exact => path == self.cleaned,
            HowToMatch::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            HowToMatch::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|s| s == path)
            }
            HowToMatch::Regex(re) => re.is_match(path),
            HowToMatch::Broken => return Err(bad_pattern(&self.cleaned)),
        })
    }

    /// Whether the pattern matches a parent directory of `file` (errors count as no match).
    fn matches_a_parent(&self, file: &str, parents: Parents) -> bool {
        let Some(slash) = file.rfind('/') else {
            return false;
        };
        // Go's filepath.Dir: everything up to the last separator, cleaned.
        let parent = gopath::clean(&file[..=slash]);
        let parent = parent.as_str();
        if parent == "." {
            return false;
        }
        let ends = parent
            .match_indices('/')
            .map(|(i, _)| i)
            .chain([parent.len()]);
        match parents {
            Parents::None => false,
            Parents::AtPatternDepth => {
                let depth = parent.split('/').count();
                if self.dirs > depth {
                    return false;
                }
                let end = ends.take(self.dirs).last().unwrap_or(parent.len());
                self.is_match(&parent[..end]).unwrap_or(false)
            }
            Parents::All => ends
                .into_iter()
                .any(|end| self.is_match(&parent[..end]).unwrap_or(false)),
        }
    }
}

fn bad_pattern(pattern: &str) -> ContextError {
    ContextError::BadPattern {
        pattern: pattern.to_string(),
        reason: "syntax error in pattern",
    }
}

/// How a pattern will be matched, as patternmatcher's `compile` detects it.
#[derive(Debug, PartialEq)]
enum Detected {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

/// patternmatcher's `compile`: picks exact/prefix/suffix compare or builds the regex.
fn compile_how(pattern: &str) -> HowToMatch {
    let mut compiler = Compiler {
        re: String::from("^"),
        detected: Detected::Exact,
        in_class: false,
    };
    let mut chars = pattern.chars().peekable();
    let mut at_start = true;
    while let Some(ch) = chars.next() {
        if ch == '*' && chars.peek() == Some(&'*') {
            chars.next();
            compiler.double_star(&mut chars, at_start);
        } else {
            compiler.one_char(ch, &mut chars);
        }
        at_start = false;
    }
    match compiler.detected {
        Detected::Exact => HowToMatch::Exact,
        Detected::Prefix => HowToMatch::Prefix,
        Detected::Suffix => HowToMatch::Suffix,
        Detected::Regex => {
            compiler.re.push('$');
            Regex::new(&compiler.re).map_or(HowToMatch::Broken, HowToMatch::Regex)
        }
    }
}

/// The state of one pattern's translation to a regular expression.
struct Compiler {
    re: String,
    detected: Detected,
    in_class: bool,
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

impl Compiler {
    /// `**` (already consumed), with an optional `/` after it.
    fn double_star(&mut self, chars: &mut Chars<'_>, at_start: bool) {
        if chars.peek() == Some(&'/') {
            chars.next();
        }
        if chars.peek().is_none() {
            // A trailing `**` accepts everything, as .gitignore does.
            if self.detected == Detected::Exact {
                self.detected = Detected::Prefix;
            } else {
                self.re.push_str(".*");
                self.detected = Detected::Regex;
            }
        } else {
            // Any number of directories, even none.
            self.re.push_str("(.*/)?");
            self.detected = Detected::Regex;
        }
        if at_start {
            self.detected = Detected::Suffix;
        }
    }

    /// Any other character of the pattern.
    fn one_char(&mut self, ch: char, chars: &mut Chars<'_>) {
        let re = &mut self.re;
        match ch {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            // Regex metacharacters with no meaning in filepath.Match stay literal and do not
            // make the pattern a regex.
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
                return;
            }
            '\\' => match chars.next() {
                Some(next) => push_escaped(re, next),
                None => {
                    re.push_str("\\\\");
                    return;
                }
            },
            '[' if !self.in_class => {
                re.push('[');
                self.in_class = true;
                if chars.peek() == Some(&'^') {
                    chars.next();
                    re.push('^');
                }
            }
            ']' if self.in_class => {
                re.push(']');
                self.in_class = false;
            }
            '[' | ']' => {
                re.push('\\');
                re.push(ch);
            }
            // Literal in Go's regexp; Rust reads `&&`, `~~` and `--` in classes as set
            // operations, so escape them (a `-` inside a class is a range).
            '&' | '~' | '-' if !self.in_class || ch != '-' => {
                re.push('\\');
                re.push(ch);
                return;
            }
            _ => {
                re.push(ch);
                return;
            }
        }
        self.detected = Detected::Regex;
    }
}

/// A `\x` escape: punctuation is a literal in Go's regexp; letters keep their regexp meaning
/// (`\d`, `\b`, ...), as in patternmatcher.
fn push_escaped(re: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        re.push('\\');
        re.push(c);
    } else {
        re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    }
}

/// patternmatcher's package-level `MatchesOrParentMatches`: compiles `patterns`, cleans
/// `file`, and never excludes the root (`.`).
pub fn matches_or_parent_matches<S: AsRef<str>>(
    file: &str,
    patterns: &[S],
) -> Result<bool, ContextError> {
    let matcher = PatternMatcher::new(patterns)?;
    let file = gopath::clean(file);
    if file == "." {
        return Ok(false);
    }
    matcher.matches_or_parent_matches(&file)
}

/// patternmatcher's deprecated package-level `Matches` (one parent at the pattern's depth).
pub fn matches<S: AsRef<str>>(file: &str, patterns: &[S]) -> Result<bool, ContextError> {
    let matcher = PatternMatcher::new(patterns)?;
    let file = gopath::clean(file);
    if file == "." {
        return Ok(false);
    }
    matcher.matches(&file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(pattern: &str, path: &str) -> bool {
        matches_or_parent_matches(path, &[pattern]).expect("valid pattern")
    }

    #[test]
    fn characters_rust_regex_reads_differently_stay_literal() {
        // Go's regexp has no class set operations nor `\<` word boundaries.
        assert!(excluded("a[&]&*", "a&&x"));
        assert!(excluded("[a~]~*", "~~"));
        assert!(excluded("x\\<y*", "x<yz"));
        assert!(excluded("[a[]*", "[b"));
        assert!(excluded("a-b*", "a-bc"));
        assert!(excluded("[a-c]-*", "b-"));
        assert!(!excluded("[a-c]-*", "d-"));
    }

    #[test]
    fn parents_of_rooted_and_unclean_paths_follow_go() {
        assert!(excluded("a", "a//b"));
        assert!(excluded("**/b", "/x/b"));
        assert!(!excluded("*.go", "."));
    }

    #[test]
    fn the_free_function_says_false_for_dot_before_matching() {
        // Found by the dockerignore_match fuzz target (its assertion was too strict): an
        // invalid escape is an error for the matcher, while patternmatcher's `Matches`
        // returns false for "." before it matches anything.
        let patterns = ["\\x-"];
        assert!(matches(".", &patterns).is_ok_and(|m| !m));
        assert!(PatternMatcher::new(&patterns).is_ok_and(|m| m.matches(".").is_err()));
    }
}
