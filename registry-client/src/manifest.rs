//! Descriptors, image manifests, image indexes and platforms, with platform selection.
//!
//! These types are for reading and writing the JSON; the bytes a digest is taken over are always
//! kept separately ([`crate::FetchedManifest::bytes`]), never re-serialised.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::media_type;

/// A content descriptor: what a blob or manifest is, by digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// The digest of the content.
    pub digest: Digest,
    /// The size of the content in bytes.
    pub size: u64,
    /// Alternative download locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform, for entries of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// An image manifest (OCI or Docker schema2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type, when it states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests, each usually with a platform.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest or index.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per fetch; boxing would only cost ergonomics
pub enum Manifest {
    /// A single-platform image manifest.
    Image(ImageManifest),
    /// A multi-platform index.
    Index(ImageIndex),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses manifest bytes. The media type is taken from `content_type` (the HTTP header) when
    /// it is a manifest or index type, else from the JSON's `mediaType`, else from its shape.
    pub fn from_bytes(bytes: &[u8], content_type: Option<&str>) -> Result<Self> {
        let invalid = |e: serde_json::Error| Error::new(ErrorKind::InvalidManifest).with_source(e);
        let probe: Probe = serde_json::from_slice(bytes).map_err(invalid)?;
        let declared = content_type
            .filter(|c| media_type::is_index(c) || media_type::is_manifest(c))
            .or(probe.media_type.as_deref());
        let is_index = match declared {
            Some(t) if media_type::is_index(t) => true,
            Some(t) if media_type::is_manifest(t) => false,
            _ => probe.manifests.is_some() && probe.config.is_none(),
        };
        if is_index {
            serde_json::from_slice(bytes)
                .map(Self::Index)
                .map_err(invalid)
        } else {
            serde_json::from_slice(bytes)
                .map(Self::Image)
                .map_err(invalid)
        }
    }

    /// The media type the manifest should be served with.
    pub fn media_type(&self) -> &str {
        match self {
            Self::Image(m) => m.media_type.as_deref().unwrap_or(media_type::OCI_MANIFEST),
            Self::Index(i) => i.media_type.as_deref().unwrap_or(media_type::OCI_INDEX),
        }
    }
}

/// An OS/architecture/variant triple, as in index entries and `--platform`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, `arm`, ...).
    pub architecture: String,
    /// Operating system (`linux`, `windows`).
    pub os: String,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            os_version: None,
            os_features: None,
            variant: variant.map(str::to_owned),
        }
    }

    /// Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`) and normalises it.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            Error::new(ErrorKind::InvalidOption(
                "platform must be os/arch[/variant]",
            ))
        };
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(Self::new(os, arch, None).normalized())
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Self::new(os, arch, Some(variant)).normalized())
            }
            _ => Err(bad()),
        }
    }

    /// The platform this program runs on (Linux, with the compile-time architecture).
    pub fn host() -> Self {
        Self::new("linux", std::env::consts::ARCH, None).normalized()
    }

    /// containerd's normalisation: lower case, `x86_64` -> `amd64`, `aarch64` -> `arm64`,
    /// arm64's default variant `v8`, arm's default variant `v7`.
    pub fn normalized(&self) -> Self {
        let os = self.os.to_lowercase();
        let arch = self.architecture.to_lowercase();
        let variant = self
            .variant
            .as_ref()
            .map(|v| v.to_lowercase())
            .filter(|v| !v.is_empty());
        let (arch, variant) = match (arch.as_str(), variant) {
            ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v.filter(|v| v != "v1")),
            ("i386" | "i686" | "386", _) => ("386", None),
            ("aarch64" | "arm64", None) => ("arm64", Some("v8".to_owned())),
            ("aarch64" | "arm64", Some(v)) => {
                ("arm64", Some(if v == "8" { "v8".into() } else { v }))
            }
            ("armhf", _) => ("arm", Some("v7".to_owned())),
            ("armel", _) => ("arm", Some("v6".to_owned())),
            ("arm", None) => ("arm", Some("v7".to_owned())),
            ("arm", Some(v)) => (
                "arm",
                Some(if v.starts_with('v') {
                    v
                } else {
                    format!("v{v}")
                }),
            ),
            (a, v) => (a, v),
        };
        Self {
            os,
            architecture: arch.to_owned(),
            variant,
            ..self.clone()
        }
    }

    /// Whether an index entry for `candidate` can serve a request for `self`, exactly.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let want = self.normalized();
        let have = candidate.normalized();
        want.os == have.os && want.architecture == have.architecture && want.variant == have.variant
    }

    /// Variants `self` can also run, best first (arm v7 runs v6 and v5 images).
    fn compatible_variants(&self) -> Vec<Option<String>> {
        let n = self.normalized();
        let mut out = vec![n.variant.clone()];
        if n.architecture == "arm" {
            let rank = |v: &str| v.trim_start_matches('v').parse::<u32>().ok();
            if let Some(top) = n.variant.as_deref().and_then(rank) {
                out.extend((5..top).rev().map(|v| Some(format!("v{v}"))));
            }
        }
        out
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

impl ImageIndex {
    /// The manifest for `platform`: an exact match first, then a compatible older arm variant.
    /// Entries without a platform or of platform `unknown` (attestations) are skipped.
    pub fn select(&self, platform: &Platform) -> Option<&Descriptor> {
        let want = platform.normalized();
        let entries = || {
            self.manifests.iter().filter_map(|d| {
                let p = d.platform.as_ref()?;
                (p.os != "unknown" && media_type_is_runnable(&d.media_type))
                    .then(|| (d, p.normalized()))
            })
        };
        for variant in want.compatible_variants() {
            let found = entries().find(|(_, p)| {
                p.os == want.os && p.architecture == want.architecture && p.variant == variant
            });
            if let Some((d, _)) = found {
                return Some(d);
            }
        }
        None
    }

    /// The platforms the index offers, for error messages.
    pub fn platforms(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
            .collect()
    }
}

fn media_type_is_runnable(media_type: &str) -> bool {
    media_type::is_manifest(media_type) || media_type::is_index(media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        let mut d = Descriptor::new(
            media_type::OCI_MANIFEST,
            Digest::sha256_of(&[n]),
            u64::from(n),
        );
        d.platform = Some(Platform::new(os, arch, variant));
        d
    }

    fn index() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.into()),
            manifests: vec![
                entry("linux", "amd64", None, 1),
                entry("linux", "arm", Some("v6"), 2),
                entry("linux", "arm64", Some("v8"), 3),
                entry("unknown", "unknown", None, 4),
                entry("windows", "amd64", None, 5),
                entry("linux", "arm", Some("v7"), 6),
            ],
            annotations: None,
        }
    }

    #[test]
    fn selects_by_os_arch_variant_with_defaults() {
        let idx = index();
        let pick = |p: &str| idx.select(&Platform::parse(p).unwrap()).map(|d| d.size);
        assert_eq!(pick("linux/amd64"), Some(1));
        assert_eq!(pick("linux/x86_64"), Some(1));
        assert_eq!(pick("linux/arm64"), Some(3), "arm64 defaults to v8");
        assert_eq!(pick("linux/aarch64/v8"), Some(3));
        assert_eq!(pick("linux/arm"), Some(6), "arm defaults to v7");
        assert_eq!(pick("linux/arm/v6"), Some(2));
        assert_eq!(pick("windows/amd64"), Some(5));
        assert_eq!(pick("linux/s390x"), None);
        assert_eq!(pick("linux/arm64/v9"), None);
    }

    #[test]
    fn arm_v7_falls_back_to_v6() {
        let mut idx = index();
        idx.manifests.retain(|d| d.size != 6);
        assert_eq!(
            idx.select(&Platform::parse("linux/arm/v7").unwrap())
                .map(|d| d.size),
            Some(2)
        );
    }

    #[test]
    fn parses_by_content_type_or_shape() {
        let idx = serde_json::to_vec(&index()).unwrap();
        assert!(matches!(
            Manifest::from_bytes(&idx, None).unwrap(),
            Manifest::Index(_)
        ));
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
        assert!(matches!(
            Manifest::from_bytes(m, Some(media_type::DOCKER_MANIFEST)).unwrap(),
            Manifest::Image(_)
        ));
        assert!(Manifest::from_bytes(b"not json", None).is_err());
    }
}
