//! Hostile layers: nothing they contain may write outside the destination.
//!
//! Names are clamped as containerd and umoci do (`..` stops at the root, a leading `/` is
//! dropped) and symlinks are resolved as if the destination were `/`; what cannot be resolved
//! inside the destination is a typed error naming the entry.

mod extract_support;

use std::path::{Path, PathBuf};

use builder_core::ErrorKind;
use builder_core::snapshot::{ExtractError, ExtractOptions, extract_layer};
use extract_support::{LayerTar, raw_header, tree};
use tar::EntryType;

/// A sandbox: `<tmp>/outside/secret` (must survive) and `<tmp>/a/b/dest` (the destination,
/// deep enough that `../..` from it is still inside the sandbox).
struct Sandbox {
    _tmp: tempfile::TempDir,
    top: PathBuf,
    dest: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().expect("tempdir");
        let top = tmp.path().to_path_buf();
        std::fs::create_dir_all(top.join("outside")).expect("mkdir");
        std::fs::write(top.join("outside/secret"), b"secret").expect("write");
        let dest = top.join("a/b/dest");
        std::fs::create_dir_all(&dest).expect("mkdir");
        Sandbox {
            _tmp: tmp,
            top,
            dest,
        }
    }

    fn outside(&self) -> String {
        self.top.join("outside").display().to_string()
    }

    fn extract(&self, tar: &[u8]) -> builder_core::Result<()> {
        extract_layer(tar, &self.dest, ExtractOptions::default()).map(|_| ())
    }

    /// Everything in the sandbox outside the destination, which must never change.
    fn outside_tree(&self) -> Vec<PathBuf> {
        tree(&self.top)
            .into_keys()
            .filter(|p| !p.starts_with("a/b/dest"))
            .collect()
    }

    fn assert_outside_untouched(&self) {
        let expected: Vec<PathBuf> = ["a", "a/b", "outside", "outside/secret"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(self.outside_tree(), expected);
        let secret = self.top.join("outside/secret");
        assert_eq!(std::fs::read(&secret).expect("secret"), b"secret");
        let nlink =
            std::os::unix::fs::MetadataExt::nlink(&std::fs::metadata(&secret).expect("stat"));
        assert_eq!(nlink, 1, "the secret was hard-linked");
    }

    fn inside(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }
}

fn extract_error(e: builder_core::Error) -> ExtractError {
    match e.kind() {
        ErrorKind::Extract(x) => x.clone(),
        other => panic!("not an extraction error: {other:?}"),
    }
}

#[test]
fn dot_dot_names_are_clamped_to_the_root() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .file("../x", 0o644, b"1")
        .file("../../../../../../outside/secret", 0o644, b"overwritten?")
        .file("sub/../../../y", 0o644, b"2")
        .finish();
    s.extract(&tar).expect("extract");
    assert_eq!(std::fs::read(s.inside("x")).expect("x"), b"1");
    assert_eq!(std::fs::read(s.inside("y")).expect("y"), b"2");
    assert_eq!(
        std::fs::read(s.inside("outside/secret")).expect("clamped"),
        b"overwritten?"
    );
    s.assert_outside_untouched();
}

#[test]
fn absolute_names_are_made_relative() {
    let s = Sandbox::new();
    let abs = format!("{}/secret", s.outside());
    let tar = LayerTar::default()
        .file("/etc/x", 0o644, b"etc")
        .file(&abs, 0o644, b"mine")
        .finish();
    s.extract(&tar).expect("extract");
    assert_eq!(std::fs::read(s.inside("etc/x")).expect("etc/x"), b"etc");
    assert_eq!(
        std::fs::read(s.dest.join(abs.trim_start_matches('/'))).expect("in"),
        b"mine"
    );
    s.assert_outside_untouched();
}

#[test]
fn symlink_to_slash_then_write_through_it_stays_inside() {
    let s = Sandbox::new();
    let probe = format!("hoist-extract-escape-{}", std::process::id());
    let tar = LayerTar::default()
        .symlink("a", "/")
        .file(&format!("a/{probe}"), 0o644, b"x")
        .finish();
    s.extract(&tar).expect("extract");
    assert!(
        !Path::new("/").join(&probe).exists(),
        "escaped to the host root"
    );
    assert_eq!(std::fs::read(s.inside(&probe)).expect("in root"), b"x");
    s.assert_outside_untouched();
}

#[test]
fn symlink_up_the_tree_then_write_through_it_stays_inside() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .symlink("up", "../..")
        .file("up/outside/secret", 0o644, b"through ../..")
        .symlink("sub/deeper", "../../../../..")
        .file("sub/deeper/z", 0o644, b"z")
        .finish();
    s.extract(&tar).expect("extract");
    assert_eq!(
        std::fs::read(s.inside("outside/secret")).expect("in"),
        b"through ../.."
    );
    assert_eq!(std::fs::read(s.inside("z")).expect("z"), b"z");
    s.assert_outside_untouched();
}

#[test]
fn absolute_symlink_to_an_outside_directory_is_resolved_inside() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .symlink("link", &s.outside())
        .file("link/secret", 0o644, b"x")
        .finish();
    // `<dest><outside>` does not exist: the link dangles inside the root.
    let err = extract_error(s.extract(&tar).expect_err("dangling"));
    assert_eq!(
        err,
        ExtractError::DanglingSymlink {
            entry: "link/secret".into()
        }
    );
    s.assert_outside_untouched();
}

#[test]
fn a_file_entry_replaces_a_symlink_instead_of_following_it() {
    let s = Sandbox::new();
    let target = format!("{}/secret", s.outside());
    let tar = LayerTar::default()
        .symlink("f", &target)
        .file("f", 0o644, b"replaced")
        .symlink("g", "../../../outside/secret")
        .file("g", 0o644, b"replaced too")
        .finish();
    s.extract(&tar).expect("extract");
    let m = std::fs::symlink_metadata(s.inside("f")).expect("f");
    assert!(m.is_file());
    assert_eq!(std::fs::read(s.inside("g")).expect("g"), b"replaced too");
    s.assert_outside_untouched();
}

#[test]
fn directory_entry_over_an_escaping_symlink_replaces_it() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .symlink("d", &s.outside())
        .dir("d", 0o755)
        .file("d/secret", 0o644, b"inside")
        .finish();
    s.extract(&tar).expect("extract");
    assert!(
        std::fs::symlink_metadata(s.inside("d"))
            .expect("d")
            .is_dir()
    );
    assert_eq!(std::fs::read(s.inside("d/secret")).expect("in"), b"inside");
    s.assert_outside_untouched();
}

#[test]
fn hardlinks_cannot_reach_outside() {
    for target in ["../../../outside/secret", "/etc/passwd"] {
        let s = Sandbox::new();
        let tar = LayerTar::default().hardlink("h", target).finish();
        let err = extract_error(s.extract(&tar).expect_err("outside target"));
        assert_eq!(
            err,
            ExtractError::HardlinkTargetMissing {
                entry: "h".into(),
                target: target.into()
            }
        );
        s.assert_outside_untouched();
    }
    // Through a symlink: the target is resolved inside the root, so it is missing.
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .symlink("out", &s.outside())
        .hardlink("h", "out/secret")
        .finish();
    let err = extract_error(s.extract(&tar).expect_err("through symlink"));
    assert!(matches!(err, ExtractError::HardlinkTargetMissing { .. }));
    s.assert_outside_untouched();
}

#[test]
fn hardlink_to_a_symlink_links_the_symlink_itself() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .symlink("s", &format!("{}/secret", s.outside()))
        .hardlink("h", "s")
        .finish();
    s.extract(&tar).expect("extract");
    assert!(
        std::fs::symlink_metadata(s.inside("h"))
            .expect("h")
            .is_symlink()
    );
    s.assert_outside_untouched();
}

#[test]
fn whiteouts_cannot_remove_outside() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .file("../../../outside/.wh.secret", 0o644, b"")
        .symlink("o", &s.outside())
        .file("o/.wh.secret", 0o644, b"")
        .symlink("up", "../../..")
        .file("up/outside/.wh.secret", 0o644, b"")
        .file("up/outside/.wh..wh..opq", 0o644, b"")
        .finish();
    s.extract(&tar).expect("extract");
    s.assert_outside_untouched();
}

#[test]
fn whiteout_of_dot_dot_is_rejected() {
    for name in [".wh...", "sub/.wh..."] {
        let s = Sandbox::new();
        let tar = LayerTar::default().file(name, 0o644, b"").finish();
        let err = extract_error(s.extract(&tar).expect_err("whiteout of .."));
        assert_eq!(err, ExtractError::InvalidWhiteout { entry: name.into() });
        s.assert_outside_untouched();
    }
}

#[test]
fn a_file_naming_the_root_is_rejected() {
    let s = Sandbox::new();
    let tar = LayerTar::default().file("..", 0o644, b"x").finish();
    let err = extract_error(s.extract(&tar).expect_err("root"));
    assert_eq!(err, ExtractError::EntryIsRoot { entry: "..".into() });
    s.assert_outside_untouched();
}

#[test]
fn a_path_through_a_file_is_a_typed_error() {
    let s = Sandbox::new();
    let tar = LayerTar::default()
        .file("f", 0o644, b"")
        .file("f/x", 0o644, b"")
        .finish();
    let err = extract_error(s.extract(&tar).expect_err("through a file"));
    assert_eq!(
        err,
        ExtractError::NotADirectory {
            entry: "f/x".into()
        }
    );
}

#[test]
fn truncated_and_garbage_input_are_read_errors() {
    let s = Sandbox::new();
    let mut tar = LayerTar::default()
        .file("big", 0o644, &[1u8; 5000])
        .finish();
    tar.truncate(1500);
    let err = extract_error(s.extract(&tar).expect_err("truncated"));
    assert!(matches!(err, ExtractError::Read { .. }), "{err:?}");
    let mut garbage = raw_header(b"x", EntryType::Regular, 0o644, 0, b"")
        .as_bytes()
        .to_vec();
    garbage[148] ^= 0x55; // break the checksum
    let err = extract_error(s.extract(&garbage).expect_err("garbage"));
    assert!(matches!(err, ExtractError::Read { .. }), "{err:?}");
    s.assert_outside_untouched();
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just(".."),
            Just("."),
            Just("a"),
            Just("b"),
            Just("outside"),
            Just("secret"),
            Just(".wh.a"),
            Just(".wh..wh..opq"),
            Just("OUT"),
        ];
        (any::<bool>(), prop::collection::vec(part, 1..5))
            .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
    }

    #[derive(Debug, Clone)]
    enum Op {
        File(String),
        Dir(String),
        Symlink(String, String),
        Hardlink(String, String),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            name().prop_map(Op::File),
            name().prop_map(Op::Dir),
            (name(), name()).prop_map(|(n, t)| Op::Symlink(n, t)),
            (name(), name()).prop_map(|(n, t)| Op::Hardlink(n, t)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the entries, nothing outside the destination changes and nothing panics.
        #[test]
        fn random_hostile_layers_stay_inside(ops in prop::collection::vec(op(), 1..12)) {
            let s = Sandbox::new();
            let mut t = LayerTar::default();
            for op in &ops {
                match op {
                    Op::File(n) => t.file(n, 0o644, b"data"),
                    Op::Dir(n) => t.dir(n, 0o755),
                    // `OUT` in a symlink target is the sandbox's real outside directory.
                    Op::Symlink(n, target) => t.symlink(n, &target.replace("OUT", &s.outside())),
                    Op::Hardlink(n, target) => t.hardlink(n, target),
                };
            }
            let _ = s.extract(&t.finish());
            s.assert_outside_untouched();
        }
    }
}
