//! The `RUN --mount` grammar: `type=cache,target=/x,sharing=locked,...`.
//!
//! A mount spec may use build variables (`target=$DIR`); BuildKit expands each value before
//! reading it. So a spec holding a `$` is kept as written ([`MountSpec::Unexpanded`]) after a
//! syntax check, and typed by [`Mount::parse`] once the planner can expand it.

use super::InstructionError;

/// A `--mount` flag: typed when it holds no variable, else kept for later expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    /// Fully parsed.
    Parsed(Mount),
    /// Holds `$`: parse with [`Mount::parse`] after expansion.
    Unexpanded(String),
}

/// What a mount provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MountType {
    /// Files from the context, a stage or an image (read-only unless `rw`).
    Bind,
    /// A persistent cache directory.
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A secret file or environment variable.
    Secret,
    /// An SSH agent socket.
    Ssh,
}

impl MountType {
    /// The name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sharing {
    /// Several writers at once (the default).
    Shared,
    /// A new mount for each concurrent writer.
    Private,
    /// Writers wait for each other.
    Locked,
}

/// One `RUN --mount`, with BuildKit's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    /// The mount type (`bind` when not given).
    pub kind: Option<MountType>,
    /// Where it appears in the container (`target`, `dst`, `destination`).
    pub target: Option<String>,
    /// Path in the `from` source (`source`, `src`).
    pub source: Option<String>,
    /// Stage, image or named context to take files from.
    pub from: Option<String>,
    /// Read-only (BuildKit's default: read-only for bind, secret and ssh; writable otherwise).
    pub readonly: bool,
    /// Cache id, secret id or ssh id.
    pub id: Option<String>,
    /// Cache sharing mode.
    pub sharing: Option<Sharing>,
    /// File mode for a new cache directory, secret file or socket.
    pub mode: Option<u32>,
    /// Owner uid for a new cache directory, secret file or socket.
    pub uid: Option<u32>,
    /// Owner gid.
    pub gid: Option<u32>,
    /// For secret and ssh: fail when unavailable.
    pub required: bool,
    /// For tmpfs: size limit in bytes.
    pub size: Option<u64>,
    /// For secret: expose in this environment variable.
    pub env: Option<String>,
}

impl Mount {
    /// The mount type, `bind` when none was given.
    pub fn mount_type(&self) -> MountType {
        self.kind.unwrap_or(MountType::Bind)
    }

    /// Parses a spec whose values need no expansion.
    pub fn parse(spec: &str) -> Result<Mount, InstructionError> {
        Mount::parse_with(spec, &mut |v| Ok(v.to_string()))
    }

    /// Parses a spec, passing each option's value through `expand` first (as BuildKit does,
    /// after splitting the CSV, so an expanded value may hold commas).
    pub fn parse_with<E>(
        spec: &str,
        expand: &mut dyn FnMut(&str) -> Result<String, E>,
    ) -> Result<Mount, E>
    where
        E: From<InstructionError>,
    {
        let mut m = Mount::default();
        let mut ro_auto = true;
        for field in split_csv(spec)? {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
                None => (field.to_ascii_lowercase(), None),
            };
            let Some(value) = value else {
                match key.as_str() {
                    "readonly" | "ro" => (m.readonly, ro_auto) = (true, false),
                    "readwrite" | "rw" => (m.readonly, ro_auto) = (false, false),
                    "required" if m.is_secret_or_ssh() => m.required = true,
                    "required" => return Err(unexpected_key(&key, &m).into()),
                    _ => {
                        return Err(InstructionError::rule(format!(
                            "invalid field '{field}' must be a key=value pair"
                        ))
                        .into());
                    }
                }
                continue;
            };
            if matches!(key.as_str(), "readonly" | "ro" | "readwrite" | "rw") {
                ro_auto = false;
            }
            let value = if key == "from" {
                value
            } else {
                expand(&value)?
            };
            m.set(&key, value)?;
        }
        m.validate(ro_auto)?;
        Ok(m)
    }

    fn is_secret_or_ssh(&self) -> bool {
        matches!(self.kind, Some(MountType::Secret | MountType::Ssh))
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), InstructionError> {
        match key {
            "type" => self.kind = Some(parse_type(&value)?),
            "from" => self.from = Some(value),
            "source" | "src" => self.source = Some(value),
            "target" | "dst" | "destination" => self.target = Some(value),
            "readonly" | "ro" => self.readonly = parse_bool(key, &value)?,
            "readwrite" | "rw" => self.readonly = !parse_bool(key, &value)?,
            "required" if self.is_secret_or_ssh() => self.required = parse_bool(key, &value)?,
            "size" if self.kind == Some(MountType::Tmpfs) => self.size = Some(parse_size(&value)?),
            "env" if self.kind == Some(MountType::Secret) => self.env = Some(value),
            "required" | "size" | "env" => return Err(unexpected_key(key, self)),
            "id" => self.id = Some(value),
            "sharing" => self.sharing = Some(parse_sharing(&value)?),
            "mode" => self.mode = Some(parse_number(key, &value, 8)?),
            "uid" => self.uid = Some(parse_number(key, &value, 10)?),
            "gid" => self.gid = Some(parse_number(key, &value, 10)?),
            _ => {
                return Err(InstructionError::rule(format!(
                    "unexpected key '{key}' in mount option '{key}={value}' (known: type, from, \
                     source, target, readonly, id, sharing, required, mode, uid, gid, size, env)"
                )));
            }
        }
        Ok(())
    }

    fn validate(&mut self, ro_auto: bool) -> Result<(), InstructionError> {
        let kind = self.mount_type();
        let file_info_allowed =
            matches!(kind, MountType::Secret | MountType::Ssh | MountType::Cache);
        if !file_info_allowed {
            for (name, set) in [
                ("mode", self.mode.is_some()),
                ("uid", self.uid.is_some()),
                ("gid", self.gid.is_some()),
            ] {
                if set {
                    return Err(InstructionError::rule(format!(
                        "{name} not allowed for \"{}\" type mounts",
                        kind.as_str()
                    )));
                }
            }
        }
        if ro_auto {
            self.readonly = !matches!(kind, MountType::Cache | MountType::Tmpfs);
        }
        if kind == MountType::Secret {
            if self.from.is_some() {
                return Err(InstructionError::rule(
                    "secret mount should not have a from",
                ));
            }
            if self.sharing.is_some() {
                return Err(InstructionError::rule(
                    "secret mount should not define sharing",
                ));
            }
            if self.source.is_none()
                && self.target.is_none()
                && self.id.is_none()
                && self.env.is_none()
            {
                return Err(InstructionError::rule(
                    "invalid secret mount. one of source, target, id or env required",
                ));
            }
            if self.source.is_some() && self.id.is_some() {
                return Err(InstructionError::rule("both source and id can't be set"));
            }
        }
        if self.sharing.is_some() && kind != MountType::Cache {
            return Err(InstructionError::rule(format!(
                "invalid cache sharing set for {} mount",
                kind.as_str()
            )));
        }
        if kind != MountType::Secret && kind != MountType::Ssh && self.target.is_none() {
            return Err(InstructionError::rule(format!(
                "mount of type {} requires a target",
                kind.as_str()
            )));
        }
        Ok(())
    }
}

/// Checks the syntax of a spec that holds variables: CSV, key=value fields, known keys, and
/// no variable in `from` (BuildKit: "define alias stage instead").
pub(crate) fn check_unexpanded(spec: &str) -> Result<(), InstructionError> {
    for field in split_csv(spec)? {
        if let Some((key, value)) = field.split_once('=')
            && key.eq_ignore_ascii_case("from")
            && value.contains('$')
        {
            return Err(InstructionError::rule(
                "'from' doesn't support variable expansion, define alias stage instead",
            ));
        }
    }
    Ok(())
}

/// Splits one CSV record as Go's `encoding/csv` does (double quotes, `""` inside quotes).
fn split_csv(spec: &str) -> Result<Vec<String>, InstructionError> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = spec.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(InstructionError::invalid(
            "--mount",
            spec,
            "failed to parse csv mounts: unterminated quote",
        ));
    }
    fields.push(field);
    Ok(fields)
}

fn unexpected_key(key: &str, m: &Mount) -> InstructionError {
    InstructionError::rule(format!(
        "unexpected key '{key}' for mount type '{}'",
        m.mount_type().as_str()
    ))
}

fn parse_type(value: &str) -> Result<MountType, InstructionError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "bind" => MountType::Bind,
        "cache" => MountType::Cache,
        "tmpfs" => MountType::Tmpfs,
        "secret" => MountType::Secret,
        "ssh" => MountType::Ssh,
        _ => {
            return Err(InstructionError::invalid(
                "mount type",
                value,
                "expected one of bind, cache, tmpfs, secret, ssh",
            ));
        }
    })
}

fn parse_sharing(value: &str) -> Result<Sharing, InstructionError> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "shared" => Sharing::Shared,
        "private" => Sharing::Private,
        "locked" => Sharing::Locked,
        _ => {
            return Err(InstructionError::invalid(
                "mount option sharing",
                value,
                "expected one of shared, private, locked",
            ));
        }
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(key: &str, value: &str) -> Result<bool, InstructionError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(InstructionError::invalid(
            format!("mount option {key}"),
            value,
            "expected a boolean",
        )),
    }
}

fn parse_number(key: &str, value: &str, radix: u32) -> Result<u32, InstructionError> {
    u32::from_str_radix(value, radix).map_err(|_| {
        let what = if radix == 8 {
            "an octal number"
        } else {
            "a non-negative integer"
        };
        InstructionError::invalid(
            format!("mount option {key}"),
            value,
            format!("expected {what}"),
        )
    })
}

/// docker/go-units `RAMInBytes`: `64m`, `1g`, `512k`, `1.5GiB`, plain bytes; binary multiples.
fn parse_size(value: &str) -> Result<u64, InstructionError> {
    let bad = || {
        InstructionError::invalid(
            "mount option size",
            value,
            "expected a size such as 64m, 1g or 1048576",
        )
    };
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let multiplier: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    let bytes = number * multiplier as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_buildkit() {
        let m = Mount::parse("target=/src").unwrap();
        assert_eq!(m.mount_type(), MountType::Bind);
        assert!(m.readonly);
        let m = Mount::parse("type=cache,target=/root/.cache,sharing=locked,mode=0700,uid=1000")
            .unwrap();
        assert!(!m.readonly);
        assert_eq!(m.sharing, Some(Sharing::Locked));
        assert_eq!(m.mode, Some(0o700));
        assert_eq!(m.uid, Some(1000));
        let m = Mount::parse("type=bind,target=/x,rw").unwrap();
        assert!(!m.readonly);
        let m = Mount::parse("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size, Some(64 << 20));
        let m = Mount::parse("type=secret,id=aws,env=AWS,required").unwrap();
        assert!(m.required);
        assert_eq!(m.env.as_deref(), Some("AWS"));
        let m = Mount::parse("type=ssh").unwrap();
        assert!(m.readonly);
        let m = Mount::parse(r#""type=bind","target=/a,b""#).unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
    }

    #[test]
    fn errors_are_buildkits() {
        let e = |s: &str| Mount::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("type=bind,target=/x,mode=0700"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("type=secret,from=x,target=/y"),
            "secret mount should not have a from"
        );
        assert_eq!(
            e("type=cache,target=/x,required"),
            "unexpected key 'required' for mount type 'cache'"
        );
        assert!(e("type=volume,target=/x").contains("mount type"));
        assert!(e("type=cache,target=/x,sharing=all").contains("sharing"));
        assert!(e("type=cache,target=/x,uid=-1").contains("uid"));
        assert!(e("type=cache,target=/x,bogus=1").contains("unexpected key 'bogus'"));
        assert!(e("type=cache,target=/x,foo").contains("must be a key=value pair"));
        assert!(e("type=cache").contains("requires a target"));
        assert!(check_unexpanded("from=$STAGE,target=/x").is_err());
        assert!(check_unexpanded("target=$DIR").is_ok());
    }
}
