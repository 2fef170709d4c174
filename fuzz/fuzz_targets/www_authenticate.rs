//! The `WWW-Authenticate` parser (registry-client): bytes -> lossy UTF-8 -> `parse_challenges`,
//! then every parameter looked up. Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_client::auth::parse_challenges;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    for challenge in parse_challenges(&header) {
        assert!(!challenge.scheme.is_empty(), "empty scheme from {header:?}");
        for name in ["realm", "service", "scope", "error", "REALM"] {
            let _ = challenge.param(name);
        }
    }
});
