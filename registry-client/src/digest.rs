//! Content digests (`sha256:<hex>`): parsing as go-digest does, hashing, verification.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A validated content digest such as `sha256:e3b0c442...`.
///
/// Parsing follows `github.com/opencontainers/go-digest`: `sha256`, `sha384` and `sha512` are the
/// available algorithms, with lowercase hex of the algorithm's length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Why a digest string was rejected. The messages are go-digest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Not `algorithm:hex`.
    #[error("invalid checksum digest format")]
    InvalidFormat,
    /// The hex part has the wrong length for the algorithm.
    #[error("invalid checksum digest length")]
    InvalidLength,
    /// A well-formed digest with an algorithm this client does not know.
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// A hash algorithm a [`Digest`] may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256, the default.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The name used in digest strings (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }
}

/// go-digest's `DigestRegexpAnchored`, written out: used only to tell "unsupported" from
/// "invalid format" for unknown algorithms.
fn is_well_formed(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['+', '.', '_', '-']).all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    alg_ok
        && !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
}

impl Digest {
    /// Parses `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let i = s.find(':').ok_or(DigestError::InvalidFormat)?;
        if i == 0 || i + 1 == s.len() {
            return Err(DigestError::InvalidFormat);
        }
        let Some(alg) = Algorithm::from_name(&s[..i]) else {
            return Err(if is_well_formed(s) {
                DigestError::Unsupported
            } else {
                DigestError::InvalidFormat
            });
        };
        let hex = &s[i + 1..];
        if hex.len() != alg.hex_len() {
            return Err(DigestError::InvalidLength);
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::InvalidFormat);
        }
        Ok(Self(s.to_owned()))
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        // A Digest is only built from a known algorithm.
        self.0
            .split_once(':')
            .and_then(|(a, _)| Algorithm::from_name(a))
            .unwrap_or(Algorithm::Sha256)
    }

    /// The hex part.
    pub fn encoded(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), crate::Error> {
        let mut h = Hasher::new(self.algorithm());
        h.update(bytes);
        h.finish().expect_equal(self)
    }

    /// `Ok` when `self` (computed) equals `expected`, else a typed mismatch error.
    pub(crate) fn expect_equal(self, expected: &Digest) -> Result<(), crate::Error> {
        if &self == expected {
            Ok(())
        } else {
            Err(crate::Error::new(crate::ErrorKind::DigestMismatch {
                expected: expected.clone(),
                actual: self,
            }))
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher producing a [`Digest`].
#[derive(Clone)]
pub struct Hasher {
    state: HasherState,
}

#[derive(Clone)]
enum HasherState {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => HasherState::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => HasherState::Sha512(sha2::Sha512::new()),
        };
        Self { state }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            HasherState::Sha256(h) => h.update(bytes),
            HasherState::Sha384(h) => h.update(bytes),
            HasherState::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let (name, hex) = match self.state {
            HasherState::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            HasherState::Sha384(h) => ("sha384", hex::encode(h.finalize())),
            HasherState::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        Digest(format!("{name}:{hex}"))
    }
}

/// Streams a file once and returns its SHA-256 digest and size, on a blocking thread.
pub async fn digest_file(path: &std::path::Path) -> Result<(Digest, u64), crate::Error> {
    let (size, hasher) = hash_file(path, Hasher::new(Algorithm::Sha256)).await?;
    Ok((hasher.finish(), size))
}

/// Feeds a whole file to `hasher` on a blocking thread; returns the bytes read and the hasher.
pub(crate) async fn hash_file(
    path: &std::path::Path,
    mut hasher: Hasher,
) -> Result<(u64, Hasher), crate::Error> {
    let path = path.to_owned();
    let joined = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Hasher)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((size, hasher))
    })
    .await
    .map_err(|e| crate::Error::new(crate::ErrorKind::Io).with_source(e))?;
    Ok(joined?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go_digest() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            Digest::parse(empty).map(|d| d.to_string()).as_deref(),
            Ok(empty)
        );
        assert_eq!(Digest::sha256_of(b"").as_str(), empty);
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::InvalidLength));
        assert_eq!(
            Digest::parse("md5:abcdefabcdefabcdefabcdefabcdef00"),
            Err(DigestError::Unsupported)
        );
        assert_eq!(Digest::parse("sha256"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse(":abc"), Err(DigestError::InvalidFormat));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert_eq!(Digest::parse(&upper), Err(DigestError::InvalidFormat));
    }

    #[test]
    fn verify_reports_mismatch() {
        let d = Digest::sha256_of(b"hello");
        assert!(d.verify(b"hello").is_ok());
        let e = d.verify(b"world").unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::DigestMismatch { .. }));
    }
}
