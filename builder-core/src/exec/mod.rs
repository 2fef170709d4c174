//! The executor: a plan -> layers and an image.
//!
//! This slice runs `FROM scratch`, `FROM <stage>`, `FROM <image>` (a registry, the local store,
//! a named context: see `base.rs`), `COPY` (from the context, an earlier stage, an image, a
//! named context or heredocs), `ADD`, `WORKDIR`, `RUN` (shell, exec and heredoc forms;
//! `--network`, `--security`; `--mount`, see `mounts.rs`: cache, bind, tmpfs, secret, ssh) and
//! every metadata instruction.
//!
//! **Stages** run concurrently when independent (`schedule.rs`, up to [`RunOptions::jobs`]
//! threads); step ids are numbered in plan order, so events keep the ids of a sequential build,
//! and a stage's materialised directory is filled under a per-directory lock.
//!
//! **RUN** (`run.rs`, `bundle.rs`, `runtime.rs`): a fresh runc/crun container per step on an
//! overlayfs mount of the stage's layer snapshots (`crate::snapshot`), or on a copy with the
//! naive snapshotter; the overlay upper directory is the diff. Cache hits do no filesystem
//! work. Each step's output goes to [`crate::events::Event::StepLog`] and to the build's log
//! file in the store; a [`CancelFlag`] stops the build, killing the container.
//!
//! A layer step writes its files into a fresh diff directory, which
//! [`crate::layer::write_tree`] turns into the layer blob. What a step reads of its stage
//! (`COPY`'s destination, `--chown` names, `WORKDIR`'s parents, `COPY --from` a stage) comes
//! from a read-only overlay view of the stage's layer snapshots (`view.rs`); the diff (or a
//! `RUN`'s overlay upper directory) then becomes the new layer's snapshot, its mtimes set to
//! the layer's, so a step on a large cached stage extracts and copies nothing. With the naive
//! snapshotter, or where overlayfs does not mount, the stage's filesystem is materialised
//! instead in a scratch directory under the store's tmp dir (removed when the build ends), its
//! layers extracted from their blobs: both give the same layers. Steps are keyed with
//! [`KeyInput`]; history times come from `SOURCE_DATE_EPOCH` or from the cache record, so a
//! warm rebuild gives the same image digest.
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
mod base;
mod builder;
mod bundle;
mod cache_key;
mod cancel;
mod commit;
mod copy;
mod diff;
mod error;
mod fetch;
mod log;
mod mounts;
mod owner;
mod parents;
mod run;
mod runtime;
mod schedule;
mod stage;
mod view;

pub use archive::{decompress_stream, is_tar_header};
pub use base::{BaseSources, NamedContext, find_local, parse_reference, pull_and_tag};
pub use builder::{BuildRequest, Builder, BuiltImage, normalize_tag};
pub use cache_key::{CacheKey, CopySource, KeyInput};
pub use cancel::CancelFlag;
pub use error::ExecError;
pub use fetch::FetchError;
pub use mounts::SecretSource;
pub use owner::OwnerError;
pub use run::RunOptions;
pub use runtime::{Runtime, RuntimeKind};
