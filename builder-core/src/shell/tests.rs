//! Unit tests of the options and corners the conformance tables do not reach.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;

use super::{Env, Lexer, PatternError, Quote, ShellError};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn home() -> Vec<(String, String)> {
    env(&[("PWD", "/home"), ("EMPTY", "")])
}

fn word(lexer: &Lexer, input: &str) -> Result<String, ShellError> {
    lexer.process_word(input, &home())
}

fn ok(lexer: &Lexer, input: &str) -> String {
    word(lexer, input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

#[test]
fn backtick_escape_token() {
    let lexer = Lexer::new('`');
    assert_eq!(ok(&lexer, "he`'llo"), "he'llo");
    assert_eq!(ok(&lexer, "he`$PWD"), "he$PWD");
    assert_eq!(ok(&lexer, "C:\\path\\$PWD"), "C:\\path\\/home");
    assert_eq!(ok(&lexer, "a` b"), "a b");
    assert_eq!(ok(&lexer, "\"a`\"b\""), "a\"b");
    assert_eq!(ok(&lexer, "\"a`tb\""), "a`tb");
    assert_eq!(ok(&lexer, "\"a\\\"b"), "a\\b");
    assert_eq!(ok(&lexer, "end`"), "end");
    assert_eq!(ok(&lexer, "${X:-`}}"), "}");
    assert_eq!(
        lexer.process_words("a` b c", &home()).ok(),
        Some(vec!["a b".into(), "c".into()])
    );
    // Patterns always escape with `\`, whatever the escape token.
    let lexer = Lexer::new('`');
    let env = env(&[("F", "a*b")]);
    assert_eq!(
        lexer.process_word("${F#a\\*}", &env).ok().as_deref(),
        Some("b")
    );
}

#[test]
fn raw_quotes_keep_quotes() {
    let lexer = Lexer::new('\\').raw_quotes(true);
    assert_eq!(ok(&lexer, "'a $PWD'\"b $PWD\""), "'a $PWD'\"b /home\"");
    assert_eq!(
        lexer.process_words("x'a b' c", &home()).ok(),
        Some(vec!["x'a b'".into(), "c".into()])
    );
}

#[test]
fn raw_escapes_keep_escapes() {
    let lexer = Lexer::new('\\').raw_escapes(true);
    assert_eq!(ok(&lexer, "a\\ b\\$PWD"), "a\\ b\\$PWD");
    assert_eq!(ok(&lexer, "\"\\\"\\$PWD\""), "\\\"\\$PWD");
    // As upstream: an escape of an ordinary character in double quotes is written twice.
    assert_eq!(ok(&lexer, "\"\\t\""), "\\\\t");
    assert_eq!(ok(&lexer, "end\\"), "end\\");
    // Without the option, pattern and replacement words still keep their escapes.
    let lexer = Lexer::new('\\');
    let env = env(&[("F", "a/b")]);
    assert_eq!(
        lexer.process_word("${F/\\//\\}}", &env).ok().as_deref(),
        Some("a\\}b")
    );
}

#[test]
fn skip_unset_env_leaves_references() {
    let lexer = Lexer::new('\\').skip_unset_env(true);
    assert_eq!(ok(&lexer, "$X-${X}-$PWD"), "$X-${X}-/home");
    assert_eq!(
        ok(&lexer, "${X:-a}${X+b}${X?c}${X#d}"),
        "${X:-a}${X+b}${X?c}${X#d}"
    );
    // As upstream, `//` is written back as `/`.
    assert_eq!(ok(&lexer, "${X/a/b} ${X//a/b}"), "${X/a/b} ${X/a/b}");
    assert_eq!(ok(&lexer, "${X:=a}"), "${X:=a}");
    assert_eq!(ok(&lexer, "${EMPTY:-a}"), "a");
    let expansion = lexer.process_word_with_matches("$X $PWD", &home());
    let expansion = expansion.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expansion.matched, BTreeSet::from(["PWD".to_string()]));
    assert_eq!(expansion.unmatched, BTreeSet::from(["X".to_string()]));
}

#[test]
fn skip_process_quotes_treats_quotes_as_text() {
    let lexer = Lexer::new('\\').skip_process_quotes(true);
    assert_eq!(ok(&lexer, "'$PWD' \"$PWD\""), "'/home' \"/home\"");
    assert_eq!(ok(&lexer, "'open"), "'open");
    assert_eq!(
        lexer.process_words("'a b'", &home()).ok(),
        Some(vec!["'a".into(), "b'".into()])
    );
}

#[test]
fn mandatory_variables() {
    let lexer = Lexer::new('\\');
    let set = env(&[("VAR", "plain"), ("ARG", "x")]);
    let empty = env(&[("VAR", ""), ("ARG", "x")]);
    let unset = env(&[("ARG", "x")]);
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(
        lexer.process_word(no_empty, &set).ok().as_deref(),
        Some("plain")
    );
    assert_eq!(
        lexer.process_word(no_unset, &set).ok().as_deref(),
        Some("plain")
    );
    assert_eq!(
        lexer.process_word(no_unset, &empty).ok().as_deref(),
        Some("")
    );
    for (word, env) in [(no_empty, &empty), (no_empty, &unset), (no_unset, &unset)] {
        let err = lexer.process_word(word, env).err();
        assert_eq!(
            err,
            Some(ShellError::Required {
                word: word.into(),
                name: "VAR".into(),
                message: "message herex".into(),
            })
        );
    }
}

#[test]
fn release_file_names() {
    let lexer = Lexer::new('\\');
    let release = "something-${VERSION}.${TARGETOS}-${TARGETARCH}\
                   ${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let cases = [
        (
            vec![("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")],
            "linux-arm-v7",
        ),
        (
            vec![("TARGETARCH", "arm64"), ("TARGETVARIANT", "")],
            "linux-arm64",
        ),
        (vec![("TARGETARCH", "arm64")], "linux-arm64"),
    ];
    for (extra, expected) in cases {
        let vars: HashMap<String, String> = base
            .iter()
            .chain(&extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = lexer.process_word(release, &vars).ok();
        assert_eq!(got, Some(format!("something-v1.2.3.{expected}.tar.gz")));
    }
}

#[test]
fn typed_errors() {
    let lexer = Lexer::new('\\');
    let err = |input: &str| word(&lexer, input).err();
    assert_eq!(
        err("\"a"),
        Some(ShellError::UnterminatedQuote {
            word: "\"a".into(),
            quote: Quote::Double
        })
    );
    // An error inside `${...}` at the end of the word is reported as the missing `}`.
    assert_eq!(
        err("${X:-'a"),
        Some(ShellError::MissingBrace {
            word: "${X:-'a".into()
        })
    );
    assert_eq!(
        err("${X:"),
        Some(ShellError::MissingBrace {
            word: "${X:".into()
        })
    );
    assert_eq!(
        err("${X/a"),
        Some(ShellError::MissingSlash {
            word: "${X/a".into()
        })
    );
    assert_eq!(
        err("${X:-${}}"),
        Some(ShellError::BadSubstitution {
            word: "${X:-${}}".into()
        })
    );
    let bad = "${X#\\x}";
    let want = ShellError::InvalidPattern {
        word: bad.into(),
        pattern: "\\x".into(),
        reason: PatternError::InvalidEscape('x'),
    };
    assert_eq!(err(bad).as_ref(), Some(&want));
    assert_eq!(want.word(), bad);
    assert_eq!(
        want.to_string(),
        "failed to process \"${X#\\\\x}\": invalid pattern (\\x) in substitution: \
         invalid escape '\\x'"
    );
    // As upstream, `%` reports the pattern reversed.
    let message = word(&lexer, "${X%\\xab}").err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some(
            "failed to process \"${X%\\\\xab}\": invalid pattern (ba\\x) in substitution: \
             invalid escape '\\x'"
        )
    );
    // `#` and `%` do not take `:` (BuildKit's error), whether the variable is set or not.
    assert!(matches!(
        err("${PWD:#x}"),
        Some(ShellError::UnsupportedModifier { .. })
    ));
}

#[test]
fn patterns_in_words() {
    let lexer = Lexer::new('\\');
    let vars = env(&[("F", "src/main.rs.bak"), ("S", "한국어한국어")]);
    let expand = |input: &str| lexer.process_word(input, &vars).ok();
    assert_eq!(expand("${F%.*}").as_deref(), Some("src/main.rs"));
    assert_eq!(expand("${F%%.*}").as_deref(), Some("src/main"));
    assert_eq!(expand("${F#*/}").as_deref(), Some("main.rs.bak"));
    assert_eq!(expand("${F/?a/X}").as_deref(), Some("src/Xin.rs.bak"));
    assert_eq!(expand("${S%국*}").as_deref(), Some("한국어한"));
    assert_eq!(expand("${S//국/-}").as_deref(), Some("한-어한-어"));
    assert_eq!(expand("${UNSET#*}").as_deref(), Some(""));
}

#[test]
fn environments() {
    let lexer = Lexer::new('\\');
    let shadowed = env(&[("A", "1"), ("A", "2")]);
    assert_eq!(
        lexer.process_word("$A", &shadowed).ok().as_deref(),
        Some("2")
    );
    let map: BTreeMap<String, String> = BTreeMap::from([("A".into(), "3".into())]);
    assert_eq!(Env::get(&map, "A"), Some("3"));
    let hash: HashMap<String, String> = HashMap::from([("A".into(), String::new())]);
    assert_eq!(Env::get(&hash, "A"), Some(""));
    assert_eq!(Env::get(&hash, "B"), None);
    // As Go's `text/scanner`, a leading byte order mark is not part of the word.
    assert_eq!(
        lexer.process_word("\u{feff}$A", &map).ok().as_deref(),
        Some("3")
    );
}

#[test]
fn heredoc_openers_keep_their_blanks() {
    // BuildKit's `processPossibleHeredoc`: `<<` and the spaces, tabs and CRs after it are
    // added as quoted text, so the name that follows joins the same word.
    let raw = Lexer::new('\\')
        .raw_quotes(true)
        .raw_escapes(true)
        .skip_unset_env(true);
    let words = |lexer: &Lexer, input: &str| lexer.process_words(input, &home()).ok();
    assert_eq!(
        words(&raw, "RUN <<  EOF  > foo a<b 3<<\t\r'x y'"),
        Some(vec![
            "RUN".into(),
            "<<  EOF".into(),
            ">".into(),
            "foo".into(),
            "a<b".into(),
            "3<<\t\r'x y'".into()
        ])
    );
    assert_eq!(
        words(&raw, "RUN <<'e'o\\'f \"a b\" ${x:-y z}"),
        Some(vec![
            "RUN".into(),
            "<<'e'o\\'f".into(),
            "\"a b\"".into(),
            "${x:-y".into(),
            "z}".into()
        ])
    );
    // Other blanks end the word; escaped or quoted `<<` is plain text.
    let lexer = Lexer::new('\\');
    assert_eq!(
        words(&lexer, "<<\u{b}a \\<< b \"<< c\" <<"),
        Some(vec![
            "<<".into(),
            "a".into(),
            "<<".into(),
            "b".into(),
            "<< c".into(),
            "<<".into()
        ])
    );
    // The text is unchanged, and `<<` is seen inside `${...}` too.
    assert_eq!(ok(&lexer, "a <<  b < c"), "a <<  b < c");
    assert_eq!(ok(&lexer, "${UNSET:-<< x}"), "<< x");
    assert_eq!(
        words(&lexer, "${UNSET:-<< x}"),
        Some(vec!["<<".into(), "x".into()])
    );
}

#[test]
fn nesting_is_bounded() {
    let lexer = Lexer::new('\\');
    let nested = |depth: usize| format!("{}x{}", "${UNSET:-".repeat(depth), "}".repeat(depth));
    assert_eq!(ok(&lexer, &nested(Lexer::MAX_NESTING)), "x");
    let deep = nested(Lexer::MAX_NESTING + 1);
    let want = ShellError::NestingTooDeep {
        word: deep.clone(),
        max: Lexer::MAX_NESTING,
    };
    assert_eq!(word(&lexer, &deep).as_ref(), Err(&want));
    assert!(
        want.to_string()
            .ends_with("substitutions nested deeper than 128")
    );
    // Hostile input: unclosed, in quotes, in patterns; no stack overflow, a typed error.
    for opener in ["${a:-", "\"${a:-", "${a/", "${a#", "${a:+${b-"] {
        let hostile = opener.repeat(100_000);
        for lexer in [lexer.clone(), lexer.clone().skip_unset_env(true)] {
            assert!(
                matches!(
                    word(&lexer, &hostile),
                    Err(ShellError::NestingTooDeep { .. })
                ),
                "{opener}"
            );
        }
    }
}

fn any_lexer() -> impl Strategy<Value = Lexer> {
    (any::<bool>(), any::<[bool; 4]>()).prop_map(|(backtick, [q, e, p, s])| {
        Lexer::new(if backtick { '`' } else { '\\' })
            .raw_quotes(q)
            .raw_escapes(e)
            .skip_process_quotes(p)
            .skip_unset_env(s)
    })
}

proptest! {
    #[test]
    fn never_panics_on_shell_like_input(
        lexer in any_lexer(),
        input in r#"[${}:\-+?#%/\\'"`a-z0-9_@* 한\u{feff}\t]{0,24}"#,
    ) {
        let vars = env(&[("a", "x*y"), ("b", ""), ("c", "한 국"), ("ab", "\\")]);
        let expansion = lexer.process_word_with_matches(&input, &vars);
        if let Ok(expansion) = expansion {
            prop_assert!(expansion.matched.is_disjoint(&expansion.unmatched));
        }
    }

    #[test]
    fn never_panics_on_any_input(lexer in any_lexer(), input in any::<String>()) {
        let _ = lexer.process_words(&input, &home());
    }

    #[test]
    fn plain_text_is_unchanged(input in "[a-zA-Z0-9_./, \t-]{0,40}") {
        let lexer = Lexer::new('\\');
        prop_assert_eq!(word(&lexer, &input).ok(), Some(input.clone()));
        let words: Vec<String> = input.split_whitespace().map(str::to_string).collect();
        prop_assert_eq!(lexer.process_words(&input, &home()).ok(), Some(words));
    }
}
