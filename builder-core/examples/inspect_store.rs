//! Lists the tagged images of a store with their digests and sizes, and shows one image's
//! config and history.
//!
//! ```text
//! cargo run -p builder-core --example inspect_store -- STORE [TAG]
//! ```
//!
//! `STORE` is a Hoist store (`$HOIST_ROOT`, by default `~/.local/share/hoist`); with `TAG`,
//! that image's platform, entrypoint, command, environment, labels and history are printed.

use builder_core::image::Layout;
use builder_core::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: inspect_store STORE [TAG]");
        std::process::exit(2);
    };
    let store = Store::open(root)?;
    let layout = Layout::of_store(&store);

    println!("{:<40} {:<20} {:>12}", "TAG", "DIGEST", "SIZE");
    for (tag, descriptor) in store.tags()? {
        // `None`: an index without an entry for this host, or a blob missing.
        let size = match layout.image(&descriptor, None)? {
            Some(image) => {
                let layers: u64 = image.manifest.layers.iter().map(|l| l.size).sum();
                (descriptor.size + image.manifest.config.size + layers).to_string()
            }
            None => "-".to_string(),
        };
        let digest = &descriptor.digest.encoded()[..12];
        println!("{tag:<40} {digest:<20} {size:>12}");
    }

    let Some(tag) = args.next() else {
        return Ok(());
    };
    let tag = tag.to_string_lossy();
    let descriptor = store
        .resolve(&tag)?
        .ok_or_else(|| format!("no image tagged {tag}"))?;
    let image = layout
        .image(&descriptor, None)?
        .ok_or_else(|| format!("{tag}: no image for this platform"))?;
    let config = image.config.config();
    println!("\n{tag} ({})", image.platform());
    println!("  config     {}", image.manifest.config.digest);
    println!("  entrypoint {:?}", config.config.entrypoint);
    println!("  cmd        {:?}", config.config.cmd);
    println!("  env        {:?}", config.config.env);
    for (key, value) in &config.config.labels {
        println!("  label      {key}={value}");
    }
    println!("  history:");
    for entry in &config.history {
        let empty = if entry.empty_layer { " (no layer)" } else { "" };
        println!("    {}{empty}", entry.created_by);
    }
    Ok(())
}
