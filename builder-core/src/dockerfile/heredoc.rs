//! Heredocs (`<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`): which words of an instruction open one,
//! with BuildKit's rules for names, expansion and tab stripping.
//!
//! BuildKit finds heredocs by splitting the whole instruction line with its shell lexer
//! ([`crate::shell::Lexer`]: quotes and escapes kept raw, unset variables kept as written,
//! an empty environment), then reads each delimiter name with the same lexer.

use super::{Heredoc, SyntaxError};
use crate::shell::{Env, Lexer};

/// BuildKit's `emptyEnvs`: heredoc detection sees no variables.
struct NoEnv;

impl Env for NoEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// BuildKit's heredoc lexer: always `\`, whatever the `escape` directive says, and unset
/// variables kept as written (`<<$EOF` names `$EOF`).
fn lexer() -> Lexer {
    Lexer::new('\\').skip_unset_env(true)
}

/// The heredocs opened on an instruction line, in order, with empty content.
pub(super) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, SyntaxError> {
    let lexer = lexer().raw_quotes(true).raw_escapes(true);
    // Like BuildKit, a line the lexer cannot split has no heredocs.
    let Ok(words) = lexer.process_words(line, &NoEnv) else {
        return Ok(Vec::new());
    };
    let mut docs = Vec::new();
    for word in &words {
        if let Some(doc) = parse_heredoc(word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Matches `^(\d*)<<(-?)\s*([^<]*)$` and reads the delimiter word (BuildKit's `ParseHeredoc`).
pub(super) fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, SyntaxError> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let (fd, after) = word.split_at(digits);
    let Some(after) = after.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    // Go's `\s`: the blanks the lexer kept after `<<`.
    let rest = rest.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    // Read with and without quotes: a name whose quotes differ was (partly) quoted.
    let words = lexer().process_words(rest, &NoEnv)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let raw = lexer().raw_quotes(true).process_words(rest, &NoEnv)?;
    let [raw_name] = raw.as_slice() else {
        return Err(SyntaxError::Invalid {
            message: format!("internal lexing of heredoc produced inconsistent results: {rest}"),
        });
    };
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Heredoc {
        name: name.clone(),
        content: String::new(),
        expand: quotes(name) == quotes(raw_name),
        chomp,
        file_descriptor: fd.bytes().fold(0u64, |n, d| {
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .unwrap_or(u64::MAX)
        }),
    }))
}

/// BuildKit's `ChompHeredocContent`: removes the leading tabs of every line.
pub(super) fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::ShellError;

    fn doc(word: &str) -> Option<(String, bool, bool, u64)> {
        let d = parse_heredoc(word).expect("no error")?;
        Some((d.name, d.expand, d.chomp, d.file_descriptor))
    }

    #[test]
    fn heredoc_words_are_recognised() {
        assert_eq!(doc("<<EOF"), Some(("EOF".into(), true, false, 0)));
        assert_eq!(doc("<<-EOF"), Some(("EOF".into(), true, true, 0)));
        assert_eq!(doc("3<<'EOF'"), Some(("EOF".into(), false, false, 3)));
        assert_eq!(doc("<<eo\\'f"), Some(("eo'f".into(), true, false, 0)));
        assert_eq!(doc("<<$EOF"), Some(("$EOF".into(), true, false, 0)));
        assert_eq!(
            doc("<<'one two'"),
            Some(("one two".into(), false, false, 0))
        );
        assert_eq!(doc("<<"), None);
        assert_eq!(doc("<<a<b"), None);
        assert_eq!(doc("x<<EOF"), None);
        assert_eq!(doc("<<a b"), None);
        assert_eq!(doc("<<  EOF"), Some(("EOF".into(), true, false, 0)));
    }

    fn names(line: &str) -> Vec<(String, bool)> {
        let docs = heredocs_from_line(line).expect("no error");
        docs.into_iter().map(|d| (d.name, d.expand)).collect()
    }

    #[test]
    fn line_words_keep_quotes_and_escapes() {
        let line = "RUN <<'e'o\\'f \"<<a b\" ${x:-<<y z} <<  EOF  > foo a<<b 2<<\\$X";
        let want = [("eo'f", false), ("EOF", true), ("$X", true)];
        let want: Vec<_> = want.iter().map(|&(n, e)| (n.to_string(), e)).collect();
        assert_eq!(names(line), want);
        assert!(names("RUN <<EOF 'open").is_empty());
        assert!(names("RUN <<EOF ${x").is_empty());
    }

    #[test]
    fn bad_names_are_typed_errors() {
        let err = parse_heredoc("<<'EOF").expect_err("open quote");
        assert!(matches!(err, SyntaxError::HeredocName(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "failed to process \"'EOF\": unexpected end of statement while looking for \
             matching single-quote"
        );
    }

    #[test]
    fn deep_substitutions_do_not_overflow() {
        let line = format!("RUN <<EOF {}", "${a:-".repeat(10_000));
        assert!(names(&line).is_empty());
        let word = format!("<<{}", "${a:-".repeat(10_000));
        let err = parse_heredoc(&word).expect_err("too deep");
        assert!(
            matches!(
                err,
                SyntaxError::HeredocName(ShellError::NestingTooDeep { .. })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn chomp_strips_leading_tabs_per_line() {
        assert_eq!(chomp("\t\ta\n\tb\n c\n"), "a\nb\n c\n");
    }
}
