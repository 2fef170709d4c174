//! Platforms (`linux/amd64`, `linux/arm/v7`), parsed and normalised as containerd does.

use std::fmt;

/// An OS, architecture and optional variant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// The operating system (`linux`).
    pub os: String,
    /// The architecture, normalised (`amd64`, `arm64`, `arm`, `386`, ...).
    pub architecture: String,
    /// The variant (`v7` for arm), if any.
    pub variant: Option<String>,
}

/// Why a platform string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {value:?}: expected os/arch[/variant], e.g. linux/amd64")]
pub struct PlatformError {
    /// The value as given.
    pub value: String,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]` (or a bare `arch`, meaning Linux), normalising aliases
    /// (`x86_64` -> `amd64`, `aarch64` -> `arm64`, `armhf` -> `arm/v7`).
    pub fn parse(value: &str) -> Result<Platform, PlatformError> {
        let bad = || PlatformError {
            value: value.to_string(),
        };
        let parts: Vec<&str> = value.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || !is_component(p)) {
            return Err(bad());
        }
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux".to_string(), *arch, None),
            [os, arch] => (os.to_ascii_lowercase(), *arch, None),
            [os, arch, variant] => (os.to_ascii_lowercase(), *arch, Some(*variant)),
            _ => return Err(bad()),
        };
        let (arch, variant) = normalize_arch(&arch.to_ascii_lowercase(), variant);
        Ok(Platform {
            os,
            architecture: arch,
            variant,
        })
    }

    /// The platform this process runs on.
    pub fn host() -> Platform {
        let (arch, variant) = normalize_arch(std::env::consts::ARCH, None);
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: arch,
            variant,
        }
    }
}

fn is_component(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let variant = variant.map(|v| v.to_ascii_lowercase());
    match arch {
        "i386" | "x86" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), variant.filter(|v| v != "v8")),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => (
            "arm".into(),
            Some(match variant.as_deref() {
                None | Some("7") => "v7".into(),
                Some("5") | Some("6") | Some("8") => format!("v{}", variant.unwrap_or_default()),
                Some(v) => v.to_string(),
            }),
        ),
        other => (other.to_string(), variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let p = |s: &str| Platform::parse(s).unwrap().to_string();
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(p("Linux/AMD64"), "linux/amd64");
        assert_eq!(p("arm64"), "linux/arm64");
        for bad in ["", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
