//! Tar layer extraction: the first byte picks the options (bit 0: keep owners, bit 1: overlay
//! whiteouts, bit 2: through `LayerReader`, so gzip/zstd streams are decoded), the rest is the
//! layer. It is extracted into `<sandbox>/root`; afterwards the sandbox must hold exactly `root`
//! and an untouched canary file, and `/` must have the same entries as before: nothing was
//! written outside the destination, whatever the names, links and whiteouts say.
#![no_main]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use builder_core::snapshot::{ExtractOptions, LayerReader, WhiteoutMode, extract_layer};
use libfuzzer_sys::fuzz_target;

const CANARY: &[u8] = b"canary: must not change\n";

fn sandbox() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hoist-fuzz-tar-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("sandbox");
        dir
    })
}

fn names(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect()
}

fn host_root() -> &'static BTreeSet<std::ffi::OsString> {
    static ROOT: OnceLock<BTreeSet<std::ffi::OsString>> = OnceLock::new();
    ROOT.get_or_init(|| names(Path::new("/")))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, layer)) = data.split_first() else {
        return;
    };
    let before_root = host_root();
    let sandbox = sandbox();
    let dest = sandbox.join("root");
    let canary = sandbox.join("canary");
    fs::create_dir_all(&dest).expect("dest");
    fs::write(&canary, CANARY).expect("canary");

    let mut options = ExtractOptions::default();
    options.same_owner = flags & 1 != 0;
    options.whiteouts = if flags & 2 != 0 {
        WhiteoutMode::Overlay
    } else {
        WhiteoutMode::Apply
    };
    if flags & 4 != 0 {
        if let Ok(reader) = LayerReader::new(layer) {
            let _ = extract_layer(reader, &dest, options);
        }
    } else {
        let _ = extract_layer(layer, &dest, options);
    }

    let after: BTreeSet<_> = names(sandbox);
    let expected: BTreeSet<_> = ["canary", "root"].iter().map(Into::into).collect();
    assert_eq!(
        after, expected,
        "something was written next to the destination"
    );
    assert_eq!(
        fs::read(&canary).expect("canary readable"),
        CANARY,
        "canary changed"
    );
    let meta = fs::symlink_metadata(&dest).expect("dest");
    assert!(meta.is_dir(), "the destination was replaced");
    assert_eq!(&names(Path::new("/")), before_root, "/ changed");
    fs::remove_dir_all(&dest).expect("clean up");
});
