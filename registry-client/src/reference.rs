//! Image references (`ubuntu`, `ghcr.io/org/app:1.2`, `localhost:5000/x@sha256:...`), parsed
//! and normalised exactly as `github.com/distribution/reference` (docker/reference) does.
//!
//! Three entry points mirror the Go package, and the conformance test checks all three:
//! [`Reference::parse_strict`] (`Parse`: no normalisation), [`Reference::parse_normalized`]
//! (`ParseNormalizedNamed`: `docker.io/library/` defaults) and [`AnyReference::parse`]
//! (`ParseAnyReference`: also a bare 64-hex image id). [`Reference::parse`] is what a user's
//! `FROM`/`pull` argument wants: normalised, with `:latest` when neither tag nor digest is given.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::digest::{Digest, DigestError};

/// The registry Docker Hub references name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library";
const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference was rejected. The messages are docker/reference's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The string does not have the grammar of a reference.
    #[error("invalid reference format")]
    InvalidFormat,
    /// Upper case in the repository part of a strictly parsed reference.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// Upper case in the repository part of a familiar reference.
    #[error("invalid reference format: repository name must be lowercase")]
    RepositoryNotLowercase,
    /// The empty string.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// Registry plus repository longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// A 64-hex string, which names an image id, not a repository.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    /// The digest part is invalid.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

const DOMAIN_AND_PORT: &str = r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?";
const REMOTE_NAME: &str =
    r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*";
const TAG: &str = r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";

fn compile(pattern: String) -> Regex {
    // The patterns are constants of this module; the unit tests compile every one.
    #[allow(clippy::expect_used)]
    Regex::new(&pattern).expect("reference grammar regex is valid")
}

static REFERENCE_RE: LazyLock<Regex> = LazyLock::new(|| {
    compile(format!(
        r"^((?:{DOMAIN_AND_PORT}/)?{REMOTE_NAME})(?::({TAG}))?(?:@({DIGEST}))?$"
    ))
});
static ANCHORED_NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(format!(r"^(?:({DOMAIN_AND_PORT})/)?({REMOTE_NAME})$")));
static IDENTIFIER_RE: LazyLock<Regex> = LazyLock::new(|| compile(r"^[a-f0-9]{64}$".to_owned()));

/// A named image reference: registry (domain), repository path, optional tag and digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as `docker pull` does: familiar names are normalised
    /// (`ubuntu` -> `docker.io/library/ubuntu`) and `:latest` is added when there is neither tag
    /// nor digest.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_normalized(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }

    /// docker/reference `ParseNormalizedNamed`: normalises, adds no default tag.
    pub fn parse_normalized(s: &str) -> Result<Self, ReferenceError> {
        if IDENTIFIER_RE.is_match(s) {
            return Err(ReferenceError::HexIdentifier(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(n, _)| n);
        if remote_name.to_lowercase() != remote_name {
            return Err(ReferenceError::RepositoryNotLowercase);
        }
        Self::parse_strict(&format!("{domain}/{remainder}"))
    }

    /// docker/reference `Parse`: the grammar only, no normalisation. The domain is the first
    /// path component when it matches the host grammar, and may be empty.
    pub fn parse_strict(s: &str) -> Result<Self, ReferenceError> {
        let Some(caps) = REFERENCE_RE.captures(s) else {
            if s.is_empty() {
                return Err(ReferenceError::NameEmpty);
            }
            if REFERENCE_RE.is_match(&s.to_lowercase()) {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        };
        let name = caps.get(1).map_or("", |m| m.as_str());
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        let (domain, path) = match ANCHORED_NAME_RE.captures(name) {
            Some(n) => (
                n.get(1).map_or("", |m| m.as_str()).to_owned(),
                n.get(2).map_or("", |m| m.as_str()).to_owned(),
            ),
            None => (String::new(), name.to_owned()),
        };
        let tag = caps.get(2).map(|m| m.as_str().to_owned());
        let digest = caps.get(3).map(|m| Digest::parse(m.as_str())).transpose()?;
        Ok(Self {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// A reference to `repository` on `registry`, checked and normalised like a parsed one.
    pub fn with_repository(registry: &str, repository: &str) -> Result<Self, ReferenceError> {
        Self::parse_normalized(&format!("{registry}/{repository}"))
    }

    /// The registry (domain) as written in references: `docker.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.domain
    }

    /// The host (and port) serving the registry API: Docker Hub is served at
    /// `registry-1.docker.io`.
    pub fn registry_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_HOST
        } else {
            &self.domain
        }
    }

    /// The repository path within the registry: `library/ubuntu`.
    pub fn repository(&self) -> &str {
        &self.path
    }

    /// The full name without tag or digest: `docker.io/library/ubuntu`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What a registry's `/manifests/<reference>` wants: the digest if present, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// The same repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !anchored_tag(tag) {
            return Err(ReferenceError::InvalidFormat);
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (and no tag).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The name as Docker shows it: `ubuntu`, `user/app`, `ghcr.io/org/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DOCKER_HUB {
            match self.path.split_once('/') {
                Some((OFFICIAL_REPO_PREFIX, rest)) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The familiar name with tag and digest: `ubuntu:22.04`.
    pub fn familiar_string(&self) -> String {
        self.with_suffix(self.familiar_name())
    }

    fn with_suffix(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

fn anchored_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok && tag.len() <= 128 && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// docker/reference `SplitDockerDomain`.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DOCKER_HUB {
        domain = DOCKER_HUB.to_owned();
    }
    if domain == DOCKER_HUB && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}/{remainder}");
    }
    (domain, remainder)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_suffix(self.name()))
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// docker/reference `ParseAnyReference`: a named reference or a bare digest / image id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    /// A named reference.
    Named(Reference),
    /// A bare digest (`sha256:...`, or a 64-hex id read as sha256).
    Digest(Digest),
}

impl AnyReference {
    /// Parses a familiar reference, a digest, or a 64-hex image id.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if IDENTIFIER_RE.is_match(s) {
            return Ok(Self::Digest(Digest::parse(&format!("sha256:{s}"))?));
        }
        if let Ok(d) = Digest::parse(s) {
            return Ok(Self::Digest(d));
        }
        Reference::parse_normalized(s).map(Self::Named)
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(r) => r.fmt(f),
            Self::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names_are_normalised() {
        let r = Reference::parse("ubuntu").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/ubuntu:latest");
        assert_eq!(r.registry_host(), "registry-1.docker.io");
        assert_eq!(r.familiar_string(), "ubuntu:latest");
        let r = Reference::parse("localhost:5000/a/b@sha256:".to_owned().as_str());
        assert!(r.is_err());
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse(&format!("localhost:5000/a/b@{d}")).unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "a/b");
        assert_eq!(r.tag(), None);
        assert_eq!(r.manifest_reference(), d);
        let r = Reference::parse("index.docker.io/user/app:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/user/app:1");
        assert_eq!(r.familiar_name(), "user/app");
    }

    #[test]
    fn normalized_references_round_trip_without_a_default_tag() {
        // Found by the reference_parse fuzz target: `parse` adds `:latest`, `parse_normalized`
        // does not, so each round-trips through its own parser.
        let r = Reference::parse_normalized("a").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/a");
        assert_eq!(Reference::parse_normalized(&r.to_string()).unwrap(), r);
        assert_eq!(
            Reference::parse("a").unwrap().to_string(),
            "docker.io/library/a:latest"
        );
    }
}
