//! The executor: a plan -> layers and an image. This first part holds the cache keys; the
//! ops (copy, metadata, exec) and the scheduler follow.

mod cache_key;

pub use cache_key::{CacheKey, CopySource, KeyInput};
