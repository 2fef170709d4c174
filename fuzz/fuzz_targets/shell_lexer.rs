//! The shell lexer on arbitrary words and environments.
//!
//! Input layout: the first byte selects the options (bit 0: escape `` ` `` instead of `\`,
//! bit 1: raw quotes, bit 2: raw escapes, bit 3: skip process quotes, bit 4: skip unset env);
//! the rest, as lossy UTF-8, is the word on its first line and one `NAME=value` environment
//! entry per following line (a bare `NAME` is set and empty).
//!
//! The word goes through `process_word`, `process_words` and `process_word_with_matches` with
//! the selected lexer and with the default lexer for both escape characters. Errors are fine;
//! panics, and the three entry points disagreeing, are not.
#![no_main]

use builder_core::shell::{Env, Lexer};
use libfuzzer_sys::fuzz_target;

fn check(lexer: &Lexer, word: &str, env: &dyn Env) {
    let full = lexer.process_word_with_matches(word, env);
    let value = lexer.process_word(word, env);
    let words = lexer.process_words(word, env);
    match &full {
        Ok(expansion) => {
            assert_eq!(value.as_ref().ok(), Some(&expansion.value));
            assert_eq!(words.as_ref().ok(), Some(&expansion.words));
            assert!(expansion.matched.is_disjoint(&expansion.unmatched));
        }
        Err(_) => {
            assert!(value.is_err());
            assert!(words.is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let word = lines.next().unwrap_or_default();
    let env: Vec<(String, String)> = lines
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect();

    let escape = if flags & 1 == 0 { '\\' } else { '`' };
    let lexer = Lexer::new(escape)
        .raw_quotes(flags & 2 != 0)
        .raw_escapes(flags & 4 != 0)
        .skip_process_quotes(flags & 8 != 0)
        .skip_unset_env(flags & 16 != 0);
    check(&lexer, word, &env);
    check(&Lexer::new('\\'), word, &env);
    check(&Lexer::new('`'), word, &env);
});
