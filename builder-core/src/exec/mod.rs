//! The executor: a plan -> layers and an image.
//!
//! This slice runs `FROM scratch`, `FROM <stage>`, `COPY` (from the context, an earlier stage
//! or heredocs), `ADD`, `WORKDIR` and every metadata instruction; `RUN` and bases from a
//! registry fail with [`ExecError::Unsupported`] / [`ExecError::UnsupportedBase`], located at
//! the instruction, never skipped.
//!
//! Each stage keeps its filesystem materialised in a scratch directory under the store's tmp
//! dir (removed when the build ends). A layer step writes its files into a fresh diff
//! directory, which [`crate::layer::write_tree`] turns into the layer blob; the blob is then
//! extracted onto the stage's filesystem, so a cache hit (nothing written, the stored blob
//! extracted) and a miss leave the same filesystem. Steps are keyed with [`KeyInput`]; history
//! times come from `SOURCE_DATE_EPOCH` or from the cache record, so a warm rebuild gives the
//! same image digest.
//!
//! **Timestamps.** With `SOURCE_DATE_EPOCH` every history entry and the config's `created` are
//! that time and file mtimes are clamped to it. Without it, a layer step's time is when its
//! cache record was made, and a metadata step takes the time of the last layer step before it
//! (none before the first layer; an image without layers has no `created`): so a warm rebuild
//! gives the same bytes, at the price of a changed `LABEL` alone not moving `created`.
//!
//! `ADD` copies like `COPY` and also extracts local tar archives, downloads
//! URLs and clones git repositories; `--chown` names are resolved in the stage's `/etc/passwd`
//! and `/etc/group`, and a `WORKDIR` created after `USER` is owned by that user, as in BuildKit.

mod add;
mod archive;
mod builder;
mod cache_key;
mod commit;
mod copy;
mod diff;
mod error;
mod fetch;
mod owner;
mod parents;
mod stage;

pub use builder::{BuildRequest, Builder, BuiltImage};
pub use cache_key::{CacheKey, CopySource, KeyInput};
pub use error::ExecError;
pub use fetch::FetchError;
pub use owner::OwnerError;
