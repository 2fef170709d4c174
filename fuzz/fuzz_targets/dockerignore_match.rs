//! `.dockerignore` matching: the bytes up to the first NUL are a `.dockerignore` file
//! (`read_ignore_patterns`); each following line is a path matched with every entry point of
//! `PatternMatcher`. Checks the entry points agree where they must. Errors are fine; panics are
//! not.
#![no_main]

use builder_core::context::{MatchInfo, PatternMatcher, matches, read_ignore_patterns};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ignore, paths) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"a\na/b\n.git\nsub/dir/file.txt"[..]),
    };
    let patterns = read_ignore_patterns(ignore);
    let Ok(matcher) = PatternMatcher::new(&patterns) else {
        return;
    };
    let _ = matcher.has_exclusions();
    let paths = String::from_utf8_lossy(paths);
    let mut parent = MatchInfo::default();
    for path in paths.lines().take(64) {
        let direct = matcher.matches(path);
        let free = matches(path, &patterns);
        // The free function builds the same matcher and matches the cleaned path (and says
        // false for "." without matching, as patternmatcher's `Matches`): on a path that is
        // already clean, the same answer.
        let clean = !path.is_empty()
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        assert!(
            !clean ||
            direct.as_ref().ok() == free.as_ref().ok(),
            "matches() disagrees for {path:?}: {direct:?} vs {free:?}"
        );
        let _ = matcher.matches_exact(path);
        let or_parent = matcher.matches_or_parent_matches(path);
        let fresh = matcher.matches_using_parent_results(path, &MatchInfo::default());
        // With no parent results the two are documented to be the same.
        if let (Ok(a), Ok((b, _))) = (&or_parent, &fresh) {
            assert_eq!(a, b, "matches_using_parent_results disagrees for {path:?}");
        }
        if let Ok((_, info)) = matcher.matches_using_parent_results(path, &parent) {
            parent = info;
        }
    }
});
