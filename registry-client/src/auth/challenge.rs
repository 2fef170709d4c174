//! `WWW-Authenticate` parsing (RFC 7235): `Bearer realm="...",service="...",scope="..."`.

use std::collections::BTreeMap;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme in lower case: `bearer`, `basic`.
    pub scheme: String,
    /// The parameters, names in lower case.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lower-case) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/:".contains(c)
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn skip_ws_and_commas(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', ',']);
    }

    fn token(&mut self) -> Option<&'a str> {
        let end = self
            .rest
            .find(|c: char| !is_tchar(c))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (t, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(t)
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn quoted(&mut self) -> String {
        let mut out = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return out;
                }
                _ => out.push(c),
            }
        }
        self.rest = "";
        out
    }

    fn value(&mut self) -> String {
        if self.eat('"') {
            self.quoted()
        } else {
            let end = self.rest.find([',', ' ', '\t']).unwrap_or(self.rest.len());
            let (v, rest) = self.rest.split_at(end);
            self.rest = rest;
            v.to_owned()
        }
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges. Never fails: what cannot be
/// parsed is skipped.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut cur = Cursor { rest: header };
    let mut out = Vec::new();
    loop {
        cur.skip_ws_and_commas();
        let Some(scheme) = cur.token() else {
            // Not a token: skip one character so the loop always advances.
            let mut chars = cur.rest.chars();
            if chars.next().is_none() {
                break;
            }
            cur.rest = chars.as_str();
            continue;
        };
        let mut params = BTreeMap::new();
        loop {
            cur.skip_ws();
            let save = cur.rest;
            let Some(name) = cur.token() else { break };
            cur.skip_ws();
            if !cur.eat('=') || cur.rest.starts_with('=') {
                // Either the next challenge's scheme or a token68: not a parameter.
                cur.rest = save;
                if params.is_empty() && !save.is_empty() {
                    // token68 (e.g. `Negotiate abc==`): consume it without keeping it.
                    cur.token();
                    cur.rest = cur.rest.trim_start_matches('=');
                }
                break;
            }
            cur.skip_ws();
            params.insert(name.to_ascii_lowercase(), cur.value());
            cur.skip_ws();
            if !cur.eat(',') {
                break;
            }
        }
        out.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#;
        let c = parse_challenges(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/ubuntu:pull"));
    }

    #[test]
    fn basic_and_odd_spacing_and_escapes() {
        let c = parse_challenges(r#"Basic realm="Registry \"Realm\"""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "Realm""#));

        let c = parse_challenges(
            r#"BEARER  Realm = "https://x/t" , Service=svc,scope="a:b:pull,push""#,
        );
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://x/t"));
        assert_eq!(c[0].param("service"), Some("svc"));
        assert_eq!(c[0].param("scope"), Some("a:b:pull,push"));
    }

    #[test]
    fn several_challenges() {
        let c =
            parse_challenges(r#"Negotiate abc==, Basic realm="r", Bearer realm="t",service="s""#);
        let schemes: Vec<_> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["negotiate", "basic", "bearer"]);
        assert_eq!(c[2].param("service"), Some("s"));
    }

    #[test]
    fn garbage_does_not_panic() {
        for h in [
            "",
            ",,,",
            "\"",
            "Bearer realm=\"unterminated",
            "=",
            "Bearer ,=,",
            "é",
        ] {
            let _ = parse_challenges(h);
        }
    }
}
