//! Hoist's build engine: a Dockerfile in, an OCI image out.
//!
//! The pipeline, one module per representation:
//!
//! ```text
//! Dockerfile text (source::SourceFile)
//!   -> dockerfile::parse        Ast: nodes with raw words and spans
//!   -> instructions::parse      typed instructions grouped in stages
//!   -> plan::plan               the stages to build, in order, words expanded
//!   -> exec::Builder::build     each stage's steps: cached or run, layers into the store
//!   -> image                    config, history, manifest (deterministic JSON), validation
//! ```
//!
//! [`context`] is what COPY and ADD read: `.dockerignore`, source selection, content checksums.
//! On the host: [`store`] is the local store (an OCI image layout with blobs, tags, the cache
//! index and snapshots); [`snapshot`] extracts layers into it safely.
//! [`layer`] turns a filesystem change into a layer blob: a deterministic tar, compressed
//! (parallel gzip or zstd) and digested in one pass.
//!
//! # Building an image
//!
//! Open a [`store::Store`], make an [`exec::Builder`] with an [`events::EventSink`] for
//! progress, and give it an [`exec::BuildRequest`]: [`exec::BuildRequest::new`] reads the
//! Dockerfile and sets every other field to its default (no tags, the host platform, gzip
//! layers, runc for `RUN`); its public fields are the `hoist build` flags. The result is an
//! [`exec::BuiltImage`]: the manifest and config digests and the tags, in the store.
//!
//! ```
//! use std::sync::Arc;
//!
//! use builder_core::events::{Event, EventSink};
//! use builder_core::exec::{BuildRequest, Builder};
//! use builder_core::store::Store;
//!
//! /// Progress: one line per step, as it starts or is found in the cache.
//! struct PrintSteps;
//!
//! impl EventSink for PrintSteps {
//!     fn emit(&self, event: Event) {
//!         match event {
//!             Event::StepStarted { name, .. } => eprintln!("{name}"),
//!             Event::StepCached { id } => eprintln!("step {} CACHED", id.0),
//!             _ => {}
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let context = dir.path().join("context");
//! std::fs::create_dir(&context)?;
//! std::fs::write(context.join("hello.txt"), "hello\n")?;
//! std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY hello.txt /\n")?;
//!
//! let store = Store::open(dir.path().join("store"))?;
//! let mut request = BuildRequest::new(&context, context.join("Dockerfile"))?;
//! request.tags.push("hello:v1".into());
//! let builder = Builder::new(store.clone(), Arc::new(PrintSteps));
//! let image = builder.build(request)?;
//! println!("{}", image.manifest_digest);
//! assert_eq!(image.tags, ["hello:v1"]);
//! assert_eq!(store.resolve("hello:v1")?.map(|d| d.digest), Some(image.manifest_digest));
//! # Ok(())
//! # }
//! ```
//!
//! **Events.** Every step reports [`events::Event`]s to the sink, from the build's thread:
//! `StepStarted`, then `StepCached` or `StepLog` lines and `StepDone` (or `StepFailed`), and
//! `BuildFinished` with a [`events::BuildSummary`] last. [`events::EventLog`] keeps them all;
//! [`events::NoEvents`] drops them.
//!
//! **Cancellation.** Give the request an [`exec::CancelFlag`] (`request.run.cancel`) and call
//! [`exec::CancelFlag::cancel`] from another thread or a signal handler
//! ([`exec::CancelFlag::from_arc`] takes the flag `signal_hook::flag::register` sets): the build
//! kills its running container, removes its mounts and temporary directories, and returns an
//! error; nothing half-written is left in the store.
//!
//! **Pushing and pulling.** [`image::Remote`] pushes a stored image
//! ([`exec::find_local`] finds it by tag) to a registry, and [`exec::pull_and_tag`] pulls one
//! into the store; both use a [`registry_client::Client`]. See `examples/build_and_push.rs` and
//! `examples/inspect_store.rs`.
#![deny(missing_docs)]

pub mod context;
pub mod dockerfile;
pub mod error;
pub mod events;
pub mod exec;
pub mod image;
pub mod instructions;
pub mod layer;
pub mod plan;
pub mod platform;
pub mod shell;
pub mod snapshot;
pub mod source;
pub mod store;
pub mod suggest;

pub use error::{Error, ErrorKind, Location, Result};
pub use source::{Position, SourceFile, Span};
