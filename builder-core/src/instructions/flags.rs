//! Instruction flags (`--name=value`, `--name`), a port of BuildKit's `BFlags`.

use std::collections::BTreeMap;

use super::InstructionError;

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--name`, `--name=true|false`.
    Bool,
    /// `--name=value`, once.
    String,
    /// `--name=value`, repeatable.
    Strings,
}

/// The flags an instruction accepts, and the values found.
#[derive(Debug)]
pub(crate) struct Flags {
    keyword: &'static str,
    spec: Vec<(&'static str, FlagKind)>,
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    /// Parses `raw` (as written, e.g. `--from=build`) against `spec` for `keyword`.
    pub(crate) fn parse(
        keyword: &'static str,
        spec: &[(&'static str, FlagKind)],
        raw: &[String],
    ) -> Result<Self, InstructionError> {
        let mut flags = Flags {
            keyword,
            spec: spec.to_vec(),
            values: BTreeMap::new(),
        };
        for arg in raw {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(InstructionError::MalformedFlag { flag: arg.clone() });
            };
            if body.is_empty() {
                break;
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            flags.add(name, value)?;
        }
        Ok(flags)
    }

    fn add(&mut self, name: &str, value: Option<&str>) -> Result<(), InstructionError> {
        let Some(&(key, kind)) = self.spec.iter().find(|(n, _)| *n == name) else {
            return Err(InstructionError::UnknownFlag {
                keyword: self.keyword.to_string(),
                flag: name.to_string(),
                known: self.spec.iter().map(|(n, _)| *n).collect(),
            });
        };
        let entry = self.values.entry(key).or_default();
        if !entry.is_empty() && kind != FlagKind::Strings {
            return Err(InstructionError::DuplicateFlag { flag: key.into() });
        }
        let value = match (kind, value) {
            (FlagKind::Bool, None) => "true".to_string(),
            (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                "" => return Err(InstructionError::MissingFlagValue { flag: key.into() }),
                v @ ("true" | "false") => v.to_string(),
                _ => {
                    return Err(InstructionError::invalid(
                        format!("--{key}"),
                        v,
                        "expecting a boolean value (true or false)",
                    ));
                }
            },
            (_, None) => return Err(InstructionError::MissingFlagValue { flag: key.into() }),
            (_, Some(v)) => v.to_string(),
        };
        entry.push(value);
        Ok(())
    }

    /// The value of a string flag, if given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last().cloned())
    }

    /// All values of a repeatable flag, in order.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag: `None` when not given.
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[(&str, FlagKind)] = &[
        ("from", FlagKind::String),
        ("link", FlagKind::Bool),
        ("exclude", FlagKind::Strings),
    ];

    fn parse(raw: &[&str]) -> Result<Flags, InstructionError> {
        let raw: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
        Flags::parse("COPY", SPEC, &raw)
    }

    #[test]
    fn values_and_kinds() {
        let f = parse(&["--from=a", "--link", "--exclude=x", "--exclude=y"]).unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.strings("exclude"), vec!["x", "y"]);
        assert_eq!(parse(&["--link=FALSE"]).unwrap().bool("link"), Some(false));
        assert_eq!(
            parse(&["--from="]).unwrap().string("from").as_deref(),
            Some("")
        );
    }

    #[test]
    fn errors_name_the_flag() {
        let e = parse(&["--form=a"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown flag --form for COPY (known: --from, --link, --exclude)"
        );
        assert_eq!(
            parse(&["--from=a", "--from=b"]).unwrap_err().to_string(),
            "duplicate flag specified: --from"
        );
        assert_eq!(
            parse(&["--from"]).unwrap_err().to_string(),
            "missing a value on flag --from"
        );
        assert_eq!(
            parse(&["--link="]).unwrap_err().to_string(),
            "missing a value on flag --link"
        );
        assert!(parse(&["--link=yes"]).is_err());
        assert!(parse(&["-x"]).is_err());
    }
}
