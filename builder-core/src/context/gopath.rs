//! Go's lexical path functions that Docker's rules are written in: `filepath.Clean` and
//! `filepath.Match` (Unix flavour: `/` separates, `\` escapes).
//!
//! Ported rather than approximated because `.dockerignore` validation, COPY wildcards and the
//! cleaning of patterns all inherit their edge cases (what is a bad pattern, what `..` does at
//! the root) from these two functions.

/// Why [`match_path`] rejected a pattern: Go's `filepath.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// `filepath.Clean`: the shortest lexically equivalent path (`.`/`..` resolved, slashes merged).
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let bytes = path.as_bytes();
    let rooted = bytes[0] == b'/';
    let n = bytes.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        let at_end = |i: usize| i == n || bytes[i] == b'/';
        if bytes[r] == b'/' || (bytes[r] == b'.' && at_end(r + 1)) {
            r += 1;
        } else if bytes[r] == b'.' && r + 1 < n && bytes[r + 1] == b'.' && at_end(r + 2) {
            r += 2;
            if out.len() > dotdot {
                // Back up to the previous separator (Go's lazybuf index logic).
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && bytes[r] != b'/' {
                out.push(bytes[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".to_string();
    }
    // Only whole ASCII bytes were removed or added, so the result is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether `name` has a wildcard Go's copy code reacts to (`*`, `?`, `[`, unescaped).
pub(crate) fn contains_wildcards(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// `filepath.Match`: whether `name` matches the shell pattern; `*` and `?` never match `/`.
pub(crate) fn match_path(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it has a separator.
            return Ok(!name.contains('/'));
        }
        let first = match_chunk(chunk, name);
        if let Ok(Some(t)) = first
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        first?;
        if star {
            // Skip i+1 bytes of the name, never across a separator.
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let skipped = &name[i + c.len_utf8()..];
                match match_chunk(chunk, skipped)? {
                    Some(t) if pattern.is_empty() && !t.is_empty() => continue,
                    Some(t) => {
                        name = t;
                        continue 'pattern;
                    }
                    None => {}
                }
            }
        }
        // Before failing, check that the rest of the pattern is well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off leading stars and the chunk up to the next unbracketed star.
fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() != pattern.len();
    let bytes = trimmed.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &trimmed[..i], &trimmed[i..])
}

/// Matches one star-free chunk at the start of `s`; `Some(rest)` on a match.
///
/// After a mismatch the chunk is still read to the end so that syntax errors are reported.
fn match_chunk<'a>(chunk: &str, s: &'a str) -> Result<Option<&'a str>, BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(c) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            '[' => {
                let r = if failed { None } else { next_char(&mut s) };
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.starts_with(']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        let (h, rest) = class_char(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if r.is_some_and(|r| lo <= r && r <= hi) {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed && next_char(&mut s) == Some('/') {
                    failed = true;
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == '\\' {
                    chunk = &chunk[1..];
                }
                let lit = chunk.chars().next().ok_or(BadPattern)?;
                chunk = &chunk[lit.len_utf8()..];
                if !failed && next_char(&mut s) != Some(lit) {
                    failed = true;
                }
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Takes the next character off `s`.
fn next_char(s: &mut &str) -> Option<char> {
    let c = s.chars().next()?;
    *s = &s[c.len_utf8()..];
    Some(c)
}

/// One (possibly escaped) character of a class; `-`, `]` or the end are errors, as is a class
/// that ends right after it.
fn class_char(chunk: &str) -> Result<(char, &str), BadPattern> {
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(BadPattern);
    }
    let chunk = match chunk.strip_prefix('\\') {
        Some("") => return Err(BadPattern),
        Some(rest) => rest,
        None => chunk,
    };
    let c = chunk.chars().next().ok_or(BadPattern)?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_go_clean() {
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def/", "abc/def"),
            ("a//b", "a/b"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("a/b/../c", "a/c"),
            ("/", "/"),
            ("./", "."),
            ("abc/./../def", "def"),
            ("/abc/def/../../..", "/"),
            ("a/../b/..", "."),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn match_is_go_match() {
        assert_eq!(match_path("*.txt", "a.txt"), Ok(true));
        assert_eq!(match_path("*", "a/b"), Ok(false));
        assert_eq!(match_path("a*/b", "abc/b"), Ok(true));
        assert_eq!(match_path("[", "a"), Err(BadPattern));
        assert_eq!(match_path("a[", "x"), Err(BadPattern));
        assert_eq!(match_path("\\", "a"), Err(BadPattern));
        assert_eq!(match_path("a?b", "a☺b"), Ok(true));
        assert_eq!(match_path("[a-ζ]*", "α"), Ok(true));
    }
}
