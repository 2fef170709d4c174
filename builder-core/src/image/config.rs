//! [`ImageConfig`]: the OCI image config with Docker's fields, and [`ConfigBlob`], a config with
//! the exact bytes it was read from.
//!
//! Which fields are written follows `moby/docker-image-spec` as BuildKit marshals it: every
//! `omitempty` field is left out when empty (so a `null` or `[]` `Cmd` is not written at all);
//! `architecture`, `os`, `config` and `rootfs` are always written. The top-level keys come out
//! sorted, because BuildKit's exporter re-marshals the config through a Go map; inside `config`,
//! `rootfs`, `history` and `Healthcheck` the fields keep Go's struct order.

use std::collections::BTreeMap;

use registry_client::Digest;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::ImageError;
use super::json::canonical_json;

/// An image config (`application/vnd.oci.image.config.v1+json`) with Docker's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ImageConfig {
    /// When the image was created, exactly as written (RFC 3339, Go's nanoseconds).
    #[serde(default)]
    pub created: Option<String>,
    /// The author (`MAINTAINER`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub author: String,
    /// CPU architecture (`amd64`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub os: String,
    /// OS version (Windows).
    #[serde(default, deserialize_with = "null_as_default", rename = "os.version")]
    pub os_version: String,
    /// OS features (Windows).
    #[serde(default, deserialize_with = "null_as_default", rename = "os.features")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub variant: String,
    /// How containers of the image run.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: ContainerConfig,
    /// The layers' diff_ids.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rootfs: RootFs,
    /// One entry per instruction, layer or not.
    #[serde(default, deserialize_with = "null_as_default")]
    pub history: Vec<History>,
    /// Top-level fields this type does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `config` object: Docker's container configuration fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `USER`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// `EXPOSE`: `"80/tcp": {}`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// `ENV`, as `KEY=value`, in the order first set.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// `ENTRYPOINT`; `None` when unset (null).
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`; `None` when unset (null).
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`: `"/data": {}`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, Empty>,
    /// `WORKDIR`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    /// Whether `Cmd`/`Entrypoint` are already escaped (Windows); BuildKit sets it on `CMD`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub args_escaped: bool,
    /// `HEALTHCHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `ONBUILD` triggers, as written.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        rename = "OnBuild",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_build: Vec<String>,
    /// `SHELL`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shell: Vec<String>,
    /// Fields this type does not know (`Hostname`, `Image`, ...), kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The empty object of `ExposedPorts` and `Volumes` entries (Go's `struct{}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `HEALTHCHECK`: durations in nanoseconds, as Go's `time.Duration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    /// Time between checks; 0 means the default.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub interval: i64,
    /// Time before a check is considered hung; 0 means the default.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub timeout: i64,
    /// Grace period after start; 0 means the default.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_period: i64,
    /// Time between checks during the start period; 0 means the default.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_interval: i64,
    /// Failures before unhealthy; 0 means the default.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub retries: i64,
}

/// `rootfs`: the layers' diff_ids, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each uncompressed layer tar.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            kind: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One `history` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct History {
    /// When, exactly as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction (`RUN /bin/sh -c make # buildkit`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    /// The author.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// A comment (BuildKit: `buildkit.dockerfile.v0`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// True when the entry made no layer.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub empty_layer: bool,
}

fn is_none_or_empty(v: &Option<Vec<String>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Go's decoding: `null` leaves a field at its zero value.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Serialize for ImageConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The top level is sorted, as BuildKit's Go map sorts it; nested objects keep their
        // struct order.
        let entries = self.entries();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, entry) in &entries {
            match entry {
                Entry::Str(s) => map.serialize_entry(key, s)?,
                Entry::Strings(v) => map.serialize_entry(key, v)?,
                Entry::Config(c) => map.serialize_entry(key, c)?,
                Entry::RootFs(r) => map.serialize_entry(key, r)?,
                Entry::History(h) => map.serialize_entry(key, h)?,
                Entry::Extra(v) => map.serialize_entry(key, v)?,
            }
        }
        map.end()
    }
}

/// A top-level field's value, borrowed, for [`ImageConfig`]'s sorted output.
enum Entry<'a> {
    Str(&'a str),
    Strings(&'a [String]),
    Config(&'a ContainerConfig),
    RootFs(&'a RootFs),
    History(&'a [History]),
    Extra(&'a Value),
}

impl ImageConfig {
    /// The fields to write, sorted by key; Go's `omitempty` decides which are left out.
    fn entries(&self) -> Vec<(&str, Entry<'_>)> {
        let mut out: Vec<(&str, Entry<'_>)> = vec![
            ("architecture", Entry::Str(&self.architecture)),
            ("config", Entry::Config(&self.config)),
            ("os", Entry::Str(&self.os)),
            ("rootfs", Entry::RootFs(&self.rootfs)),
        ];
        let optional = [
            ("author", &self.author),
            ("os.version", &self.os_version),
            ("variant", &self.variant),
        ];
        out.extend(
            optional
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, Entry::Str(v))),
        );
        if let Some(created) = &self.created {
            out.push(("created", Entry::Str(created)));
        }
        if !self.os_features.is_empty() {
            out.push(("os.features", Entry::Strings(&self.os_features)));
        }
        if !self.history.is_empty() {
            out.push(("history", Entry::History(&self.history)));
        }
        let known: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
        out.extend(
            self.extra
                .iter()
                .filter(|(k, _)| {
                    !KNOWN_TOP_LEVEL.contains(&k.as_str()) && !known.contains(&k.as_str())
                })
                .map(|(k, v)| (k.as_str(), Entry::Extra(v))),
        );
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Parses config bytes (unknown fields are kept in `extra`).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ImageError> {
        serde_json::from_slice(bytes).map_err(|e| ImageError::InvalidJson {
            document: "image config",
            reason: e.to_string(),
        })
    }

    /// The canonical bytes: compact, sorted top level, Go's escaping.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        canonical_json(self)
    }
}

const KNOWN_TOP_LEVEL: [&str; 10] = [
    "architecture",
    "author",
    "config",
    "created",
    "history",
    "os",
    "os.features",
    "os.version",
    "rootfs",
    "variant",
];

/// A config with the exact bytes it came from and their digest.
///
/// A pulled config keeps the registry's bytes; its digest is taken over them, never over a
/// re-serialisation. A built config's bytes are [`ImageConfig::to_canonical_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigBlob {
    config: ImageConfig,
    bytes: Vec<u8>,
    digest: Digest,
}

impl ConfigBlob {
    /// Parses `bytes`, keeping them.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, ImageError> {
        let config = ImageConfig::from_slice(&bytes)?;
        let digest = Digest::sha256_of(&bytes);
        Ok(Self {
            config,
            bytes,
            digest,
        })
    }

    /// Serialises `config` canonically.
    pub fn from_config(config: ImageConfig) -> Self {
        let bytes = config.to_canonical_json();
        let digest = Digest::sha256_of(&bytes);
        Self {
            config,
            bytes,
            digest,
        }
    }

    /// The parsed config.
    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The sha256 of [`ConfigBlob::bytes`].
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The parsed config, dropping the bytes (to derive a new config from it).
    pub fn into_config(self) -> ImageConfig {
        self.config
    }
}
