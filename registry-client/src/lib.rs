//! An OCI distribution client for Hoist.
#![deny(missing_docs)]

pub mod digest;
mod error;
pub mod reference;

pub use digest::{Digest, DigestError};
pub use error::{Error, ErrorKind, HttpFailure, RegistryErrorCode, Result};
pub use reference::{AnyReference, Reference, ReferenceError};
