//! The test harness: the real registry (`docker-registry`, distribution 2.8) started per test,
//! with htpasswd or token auth, TLS from a private CA, and a fault-injecting proxy in front.
//!
//! Include it from a test file with `mod harness;` (from a bench, with
//! `#[path = "../tests/harness/mod.rs"]`). Every fixture owns what it starts (a child process, a
//! server thread, temp dirs) and stops or removes it on `Drop`. `client` is the library side: a
//! hermetic `registry_client` builder, test images as files, peak-memory readings.
// Each test binary uses a different subset of the harness.
#![allow(dead_code, unused_imports)]

pub mod ca;
pub mod client;
pub mod image;
pub mod proxy;
pub mod registry;
mod server;
pub mod token;
pub mod tools;

pub use ca::{Ca, CertPair};
pub use image::{Blob, TestImage};
pub use proxy::{Fault, FaultProxy, FaultRule, PathKind, ProxyStats};
pub use registry::{Auth, Registry, RegistryBuilder};
pub use token::{TokenRequest, TokenServer, TokenServerBuilder};
pub use tools::{Curl, CurlAuth, CurlError, CurlResponse, Skopeo, SkopeoError, push_with_curl};

use sha2::{Digest as _, Sha256};

/// Returns `len` pseudo-random bytes, the same for the same `seed` (splitmix64).
pub fn random_blob(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Returns the OCI digest string `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Picks a free TCP port on 127.0.0.1 by binding port 0 and releasing it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Panics with a clear message when a required tool is not installed.
pub(crate) fn require_tool(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false);
    assert!(found, "`{name}` is not installed: run scripts/install-deps");
}
