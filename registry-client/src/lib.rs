//! An OCI distribution client for Hoist.
//!
//! This crate knows nothing about builds: it parses image references, talks to registries
//! (Docker Hub, `registry:2`) and moves manifests and blobs. It is filled in by the registry
//! issue; for now it only marks its place in the workspace.
#![deny(missing_docs)]
