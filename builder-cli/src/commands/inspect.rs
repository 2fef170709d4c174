//! `hoist inspect IMAGE`: an image's manifest, config and history, as text or JSON.

use std::io::Write;

use builder_core::image::ImageConfig;
use builder_core::store::Store;
use registry_client::ImageManifest;
use serde_json::{Value, json};

use super::images::{FoundImage, find_image, open_store, read_blob};
use crate::Failure;
use crate::args::{InspectArgs, InspectFormat};
use crate::size::human_size;

/// What `inspect` shows: the raw documents, parsed where needed.
struct Inspected {
    found: FoundImage,
    manifest: Value,
    /// The image manifest and config (`None` for an index).
    image: Option<(ImageManifest, Value, ImageConfig)>,
}

/// Runs `hoist inspect`.
pub fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let store = open_store()?;
    let found = find_image(&store, &args.image)?;
    let inspected = load(&store, found)?;
    match args.format {
        InspectFormat::Json => {
            let text =
                serde_json::to_string_pretty(&to_json(&inspected)).map_err(anyhow::Error::from)?;
            writeln!(out, "{text}")?;
        }
        InspectFormat::Text => write_text(&inspected, out)?,
    }
    Ok(())
}

fn load(store: &Store, found: FoundImage) -> Result<Inspected, Failure> {
    let bytes = read_blob(store, &found.descriptor.digest)?;
    let manifest: Value = serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
    let image = match serde_json::from_slice::<ImageManifest>(&bytes) {
        Ok(m) if manifest.get("config").is_some() => {
            let config_bytes = read_blob(store, &m.config.digest)?;
            let raw: Value = serde_json::from_slice(&config_bytes).map_err(anyhow::Error::from)?;
            let config =
                ImageConfig::from_slice(&config_bytes).map_err(builder_core::Error::from)?;
            Some((m, raw, config))
        }
        _ => None,
    };
    Ok(Inspected {
        found,
        manifest,
        image,
    })
}

fn to_json(i: &Inspected) -> Value {
    let d = &i.found.descriptor;
    let size = i
        .image
        .as_ref()
        .map_or(d.size, |(m, _, _)| total_size(d.size, m));
    json!({
        "tag": i.found.tag,
        "digest": d.digest.to_string(),
        "mediaType": d.media_type,
        "size": size,
        "manifest": i.manifest,
        "config": i.image.as_ref().map(|(_, raw, _)| raw.clone()),
    })
}

fn total_size(manifest_size: u64, m: &ImageManifest) -> u64 {
    manifest_size + m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>()
}

fn write_text(i: &Inspected, out: &mut dyn Write) -> std::io::Result<()> {
    let d = &i.found.descriptor;
    if let Some(tag) = &i.found.tag {
        writeln!(out, "Tag:          {tag}")?;
    }
    writeln!(out, "Digest:       {}", d.digest)?;
    writeln!(out, "Media type:   {}", d.media_type)?;
    let Some((manifest, _, config)) = &i.image else {
        writeln!(out, "Manifests:")?;
        let list = i.manifest["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in list {
            let p = &m["platform"];
            let platform = format!(
                "{}/{}",
                p["os"].as_str().unwrap_or("?"),
                p["architecture"].as_str().unwrap_or("?")
            );
            writeln!(out, "  {}  {platform}", m["digest"].as_str().unwrap_or("?"))?;
        }
        return Ok(());
    };
    let platform = match config.variant.as_str() {
        "" => format!("{}/{}", config.os, config.architecture),
        v => format!("{}/{}/{v}", config.os, config.architecture),
    };
    writeln!(out, "Platform:     {platform}")?;
    writeln!(
        out,
        "Created:      {}",
        config.created.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "Size:         {}",
        human_size(total_size(d.size, manifest))
    )?;
    writeln!(out, "Config:       {}", manifest.config.digest)?;
    let c = &config.config;
    let list = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let fields: [(&str, String); 9] = [
        ("User", c.user.clone()),
        ("WorkingDir", c.working_dir.clone()),
        (
            "Entrypoint",
            c.entrypoint.as_deref().map(list).unwrap_or_default(),
        ),
        ("Cmd", c.cmd.as_deref().map(list).unwrap_or_default()),
        ("Env", c.env.join(" ")),
        (
            "ExposedPorts",
            c.exposed_ports
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "Volumes",
            c.volumes.keys().cloned().collect::<Vec<_>>().join(" "),
        ),
        ("StopSignal", c.stop_signal.clone()),
        (
            "Labels",
            c.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    for (name, value) in fields.iter().filter(|(_, v)| !v.is_empty()) {
        writeln!(out, "  {name:<13} {value}")?;
    }
    writeln!(out, "Layers:")?;
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        writeln!(
            out,
            "  {}  {:>8}  diff_id {diff_id}",
            layer.digest,
            human_size(layer.size)
        )?;
    }
    writeln!(out, "History:")?;
    let mut layers = manifest.layers.iter();
    for h in &config.history {
        let size = if h.empty_layer {
            "0B".to_owned()
        } else {
            layers.next().map_or("-".into(), |l| human_size(l.size))
        };
        let created = h.created.as_deref().unwrap_or("-");
        writeln!(out, "  {created:<20}  {size:>8}  {}", h.created_by)?;
    }
    Ok(())
}
