//! `ADD`: everything `COPY` does, plus archives, URLs and git repositories.
//!
//! The sources are split by kind: local ones (and heredocs) are one [`PreparedCopy`] over the
//! build context with `unpack` set (a local tar archive is extracted, `--unpack=false` keeps
//! it); each URL is downloaded and each git URL cloned into a scratch directory first (see
//! [`super::fetch`]), then copied from there by a [`PreparedCopy`] of its own, keyed by the
//! content's digest or the commit. A URL is unpacked only with `--unpack=true`, as in BuildKit.
//! The step's key combines the parts' keys in source order.

use std::path::Path;

use tempfile::TempDir;

use super::copy::{CopyOrigin, PreparedCopy};
use super::fetch::{self, FetchError};
use super::{CacheKey, CopySource, ExecError, KeyInput};
use crate::context::Context;
use crate::error::Result;
use crate::instructions::{Add, CopySpec};

/// A remote source fetched into a scratch directory.
#[derive(Debug)]
struct Fetched {
    context: Context,
    spec: CopySpec,
    url: String,
    /// The download's digest, or the commit.
    content: String,
    is_git: bool,
}

/// An `ADD`'s sources: the local part and the fetched remote ones, kept until the step is
/// written.
#[derive(Debug)]
pub(super) struct AddSources {
    local: Option<CopySpec>,
    remote: Vec<Fetched>,
    count: usize,
    _scratch: TempDir,
}

impl AddSources {
    /// Fetches the remote sources of `add` into a directory under `scratch`.
    pub(super) fn fetch(add: &Add, scratch: &Path) -> Result<Self> {
        let spec = &add.spec;
        let dir = tempfile::Builder::new()
            .prefix("add-")
            .tempdir_in(scratch)
            .map_err(ExecError::io("create a directory in", scratch))?;
        let (remote_sources, local_sources): (Vec<&String>, Vec<&String>) = spec
            .sources
            .iter()
            .partition(|s| fetch::is_http_url(s) || fetch::is_git_url(s));
        if let (Some(_), Some(local)) = (&add.checksum, local_sources.first()) {
            return Err(ExecError::from(FetchError::ChecksumOnLocalSource {
                source_path: (*local).clone(),
            })
            .into());
        }
        let mut remote = Vec::new();
        for (i, url) in remote_sources.into_iter().enumerate() {
            let into = dir.path().join(i.to_string());
            std::fs::create_dir(&into).map_err(ExecError::io("create directory", &into))?;
            remote.push(fetch_one(add, url, &into)?);
        }
        let local = (!local_sources.is_empty() || !spec.inline.is_empty()).then(|| CopySpec {
            sources: local_sources.into_iter().cloned().collect(),
            ..spec.clone()
        });
        Ok(AddSources {
            local,
            remote,
            count: spec.sources.len() + spec.inline.len(),
            _scratch: dir,
        })
    }

    /// The copies that make the step: sources selected, destination resolved against
    /// `workdir`.
    pub(super) fn prepare<'a>(
        &'a self,
        add: &Add,
        context: &'a Context,
        workdir: &str,
    ) -> Result<Vec<PreparedCopy<'a>>> {
        let mut parts = Vec::new();
        let several = self.count > 1;
        let dest = add.spec.dest.as_str();
        let written_as_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        if several && !written_as_dir {
            return Err(ExecError::DestinationNotDirectory {
                dest: add.spec.dest.clone(),
            }
            .into());
        }
        if let Some(local) = &self.local {
            let part = PreparedCopy::new(local, CopyOrigin::Context(context), workdir, false)?
                .with_unpack(add.unpack.unwrap_or(true));
            parts.push(part);
        }
        for fetched in &self.remote {
            let source = if fetched.is_git {
                CopySource::Git {
                    url: &fetched.url,
                    commit: &fetched.content,
                    keep_git_dir: add.keep_git_dir,
                }
            } else {
                CopySource::Url {
                    url: &fetched.url,
                    checksum: &fetched.content,
                }
            };
            let origin = CopyOrigin::Remote(&fetched.context, source);
            let part = PreparedCopy::new(&fetched.spec, origin, workdir, false)?
                .with_unpack(!fetched.is_git && add.unpack.unwrap_or(false));
            parts.push(part);
        }
        Ok(parts
            .into_iter()
            .map(|p| if several { p.into_dir_dest() } else { p })
            .collect())
    }
}

/// The key of an `ADD` made of `parts` onto the state `parent`.
pub(super) fn add_key(parts: &[PreparedCopy<'_>], parent: &CacheKey) -> Result<CacheKey> {
    let keys = parts
        .iter()
        .map(|p| p.key(parent).map(|k| k.digest().as_str().to_owned()))
        .collect::<Result<Vec<_>>>()?;
    Ok(KeyInput::Add {
        parent: parent.digest().as_str(),
        parts: &keys,
    }
    .key())
}

/// Downloads or clones one remote source into `into`.
fn fetch_one(add: &Add, url: &str, into: &Path) -> Result<Fetched> {
    let spec = &add.spec;
    if fetch::is_git_url(url) {
        let checkout = fetch::clone_git(url, into, add.checksum.as_deref(), add.keep_git_dir)
            .map_err(ExecError::from)?;
        let context = Context::open_tree(&checkout.dir)?;
        return Ok(Fetched {
            context,
            spec: CopySpec {
                sources: vec!["/".to_owned()],
                inline: Vec::new(),
                ..spec.clone()
            },
            url: url.to_owned(),
            content: checkout.commit,
            is_git: true,
        });
    }
    let expected = add
        .checksum
        .as_deref()
        .map(fetch::parse_checksum)
        .transpose()
        .map_err(ExecError::from)?;
    let (name, digest) = fetch::download(url, into, expected.as_ref()).map_err(ExecError::from)?;
    let context = Context::open_tree(into)?;
    Ok(Fetched {
        context,
        spec: CopySpec {
            sources: vec![format!("/{name}")],
            inline: Vec::new(),
            ..spec.clone()
        },
        url: url.to_owned(),
        content: digest.as_str().to_owned(),
        is_git: false,
    })
}
