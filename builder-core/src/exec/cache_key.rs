//! Cache keys: the versioned, canonical sha256 of one key struct per op kind.
//!
//! A key covers everything that decides an op's result and nothing else: the key of the
//! filesystem it starts from, the op's semantic fields, and the content digests of its inputs.
//! Never mtimes, never paths on the host, never secret values. Each struct carries a `kind` tag
//! with a version (`hoist.copy.v1`); changing what a key covers means a new version, and the
//! pinned keys in the tests below make such a change deliberate. (BuildKit does the same in
//! `solver/llbsolver/ops`; kaniko's string-joined keys are what this avoids.)

use registry_client::Digest;
use serde::Serialize;

/// The cache key of a filesystem state: the result of a base, or of a COPY/ADD/RUN on a parent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey(Digest);

impl CacheKey {
    /// The key as a digest (`sha256:...`).
    pub fn digest(&self) -> &Digest {
        &self.0
    }

    /// The hex part, for file names.
    pub fn hex(&self) -> &str {
        self.0.encoded()
    }
}

/// What a key is computed from. Serialised canonically (fixed field order, no maps with
/// unordered keys) and hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum KeyInput<'a> {
    /// An empty filesystem (`FROM scratch`).
    #[serde(rename = "hoist.scratch.v1")]
    Scratch {
        /// The platform built for (`linux/amd64`).
        platform: &'a str,
    },
    /// A base image, by the digest of the manifest chosen for the platform.
    #[serde(rename = "hoist.base.v1")]
    Base {
        /// The manifest digest.
        manifest: &'a str,
    },
    /// `COPY` or `ADD` onto a parent state.
    #[serde(rename = "hoist.copy.v1")]
    Copy {
        /// The parent state's key.
        parent: &'a str,
        /// The files copied: their content digest (context checksum, stage key + paths, ...).
        source: CopySource<'a>,
        /// The destination, resolved against the working directory.
        dest: &'a str,
        /// `--chown` when numeric (`uid[:gid]`, a lone uid is also the gid).
        owner: Option<(u32, u32)>,
        /// `--chown` when it names a user or group, as written: resolved in the parent state's
        /// files, which its key covers. Left out when absent (keys without it are unchanged).
        #[serde(skip_serializing_if = "Option::is_none")]
        chown_name: Option<&'a str>,
        /// `--chmod`, as written after expansion.
        chmod: Option<&'a str>,
        /// `--link`.
        link: bool,
        /// `--parents`.
        parents: bool,
        /// Whether archives are unpacked (`ADD`).
        unpack: bool,
    },
    /// `RUN` on a parent state.
    #[serde(rename = "hoist.exec.v1")]
    Exec {
        /// The parent state's key.
        parent: &'a str,
        /// The argv run.
        args: &'a [String],
        /// The environment, `KEY=value`, in order (proxy args left out, as BuildKit does).
        env: &'a [String],
        /// The user, as given.
        user: &'a str,
        /// The working directory.
        cwd: &'a str,
        /// `--network`.
        network: &'a str,
        /// `--security`.
        security: &'a str,
        /// Mounts, each described by its type, target and the key or digest of its source
        /// (secrets by id only).
        mounts: &'a [String],
    },
    /// `ADD`: the keys of its parts (local sources, each URL, each git repository), each
    /// computed as a [`KeyInput::Copy`] onto the same parent.
    #[serde(rename = "hoist.add.v1")]
    Add {
        /// The parent state's key.
        parent: &'a str,
        /// The parts' keys, in source order (local part first).
        parts: &'a [String],
    },
    /// `WORKDIR` creating its directory.
    #[serde(rename = "hoist.mkdir.v1")]
    Mkdir {
        /// The parent state's key.
        parent: &'a str,
        /// The directory.
        path: &'a str,
        /// Its owner.
        owner: (u32, u32),
        /// The `USER` that owns it, as written (resolved in the parent state's files). Left out
        /// when unset (keys without it are unchanged).
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<&'a str>,
    },
}

/// Where copied files come from, for a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "lowercase")]
pub enum CopySource<'a> {
    /// The build context: the checksum of the selected files (content and mode).
    Context {
        /// The selection's checksum.
        checksum: &'a str,
    },
    /// Another state (a stage or an image): its key and the source paths.
    State {
        /// The source state's key.
        key: &'a str,
        /// The paths copied from it.
        paths: &'a [String],
    },
    /// Heredoc files: names and the digest of their contents.
    Inline {
        /// `name` and content digest for each file.
        files: &'a [(String, String)],
    },
    /// A remote file, by the checksum of its bytes.
    Url {
        /// The URL.
        url: &'a str,
        /// The content digest.
        checksum: &'a str,
    },
    /// A git repository, by the commit checked out.
    Git {
        /// The URL, with its `#ref:subdir`.
        url: &'a str,
        /// The commit.
        commit: &'a str,
        /// `--keep-git-dir`.
        keep_git_dir: bool,
    },
}

impl KeyInput<'_> {
    /// The key: sha256 of the canonical JSON of `self`.
    pub fn key(&self) -> CacheKey {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        CacheKey(Digest::sha256_of(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned keys: if one changes, bump the version of the key kind it belongs to.
    #[test]
    fn keys_are_pinned() {
        let scratch = KeyInput::Scratch {
            platform: "linux/amd64",
        }
        .key();
        assert_eq!(
            scratch.digest().as_str(),
            "sha256:2090e68cd96756bda1abb3990c6263337d912b8b6f7cf84b6f8672920906d976"
        );
        let copy = KeyInput::Copy {
            parent: scratch.digest().as_str(),
            source: CopySource::Context {
                checksum: "sha256:00",
            },
            dest: "/app/",
            owner: Some((1000, 1000)),
            chown_name: None,
            chmod: None,
            link: false,
            parents: false,
            unpack: false,
        };
        assert_eq!(
            serde_json::to_string(&copy).unwrap(),
            format!(
                "{{\"kind\":\"hoist.copy.v1\",\"parent\":\"{}\",\"source\":{{\"from\":\"context\",\
                 \"checksum\":\"sha256:00\"}},\"dest\":\"/app/\",\"owner\":[1000,1000],\
                 \"chmod\":null,\"link\":false,\"parents\":false,\"unpack\":false}}",
                scratch.digest().as_str()
            )
        );
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = |dest| {
            KeyInput::Mkdir {
                parent: "p",
                path: dest,
                owner: (0, 0),
                user: None,
            }
            .key()
        };
        assert_ne!(base("/a"), base("/b"));
        assert_eq!(base("/a"), base("/a"));
    }
}
