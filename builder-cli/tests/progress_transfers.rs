//! Byte progress of pulls, pushes and layer exports, against the real registry: the JSON
//! events of a build that pulls its base and pushes its image validate against
//! docs/events.schema.json and name every blob moved; `hoist push` and `hoist pull` in plain
//! mode print a `done` line per blob with its size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod registry_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use common::validated_events;
use registry_support::{Registry, app_context, busybox_context, hoist_ok, validated};
use serde_json::Value;

fn hoist_in(root: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_CONFIG", root.join("no-docker-config"))
        .env_remove("CI")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hoist {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `item`s of the `step_progress` events that reached their total, by verb.
fn finished_items(events: &[Value], verb: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step_progress" && e["current"] == e["total"])
        .filter_map(|e| e["item"].as_str())
        .filter_map(|item| item.strip_prefix(verb))
        .map(|digest| digest.trim().to_owned())
        .collect()
}

fn short(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

#[test]
fn pulls_pushes_and_exports_report_their_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let host = registry.host();
    let base = format!("{host}/progress/base:1");
    let app = format!("{host}/progress/app:1");

    // A base image in the registry; `hoist push --progress plain` prints a line per blob sent.
    let store_a = tmp.path().join("store-a");
    let context = busybox_context(tmp.path());
    let digest = hoist_ok(
        &store_a,
        &["build", "-q", "-t", &base, context.to_str().unwrap()],
    );
    let (base_layers, _) = validated(&store_a, &digest);
    let out = hoist_in(&store_a, &["push", "--progress", "plain", &base]);
    let plain = String::from_utf8_lossy(&out.stderr);
    assert!(plain.contains(&format!("#1 push {base}")), "{plain}");
    for layer in &base_layers {
        let line = plain
            .lines()
            .find(|l| l.starts_with(&format!("#1 pushing {} ", short(layer))))
            .unwrap_or_else(|| panic!("no line for {layer}:\n{plain}"));
        assert!(line.ends_with(" done"), "{line}");
    }
    assert!(plain.contains("#1 DONE"), "{plain}");

    // A fresh store builds on it and pushes: JSON events for the pull, the exports and the push.
    let store_b = tmp.path().join("store-b");
    let dockerfile = format!("FROM {base}\nCOPY app.txt /app/\n");
    let ctx = app_context(tmp.path(), "app", &dockerfile);
    let out = hoist_in(
        &store_b,
        &[
            "build",
            "--progress",
            "json",
            "--push",
            "-t",
            &app,
            ctx.to_str().unwrap(),
        ],
    );
    let events = validated_events(&String::from_utf8_lossy(&out.stderr));
    let built = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (app_layers, _) = validated(&store_b, &built);
    let pulled = finished_items(&events, "pulling");
    for layer in &base_layers {
        assert!(pulled.contains(&short(layer)), "{layer} not in {pulled:?}");
    }
    let exported = finished_items(&events, "exporting layer");
    let own = app_layers.last().unwrap();
    assert_eq!(exported, BTreeSet::from([short(own)]));
    // The registry has the base layers: only the new layer and the config are sent.
    let pushed = finished_items(&events, "pushing");
    assert!(pushed.contains(&short(own)), "{pushed:?}");
    for layer in &base_layers {
        assert!(!pushed.contains(&short(layer)), "{layer} sent again");
    }
    // The push is a step after the build's, numbered on.
    let push_step = events
        .iter()
        .find(|e| e["type"] == "step_started" && e["name"] == format!("push {app}").as_str())
        .expect("a push step");
    let max_build_id = events
        .iter()
        .filter(|e| e["type"] == "step_started" && e["name"] != push_step["name"])
        .map(|e| e["id"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(push_step["id"].as_u64().unwrap(), max_build_id + 1);

    // `hoist pull --progress plain` into a third store: a done line per blob.
    let store_c = tmp.path().join("store-c");
    let out = hoist_in(&store_c, &["pull", "--progress", "plain", &app]);
    let plain = String::from_utf8_lossy(&out.stderr);
    for layer in &app_layers {
        assert!(
            plain.contains(&format!("#1 pulling {} ", short(layer))),
            "{layer}:\n{plain}"
        );
    }
    // Quiet: the digest alone.
    let out = hoist_in(&tmp.path().join("store-d"), &["pull", "-q", &app]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), built);
}
