//! What `hoist build` does with the image once built: `--output`, `--push`, `--iidfile`,
//! `--metadata-file`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use builder_core::exec::BuiltImage;
use builder_core::image::output::{ArchiveFormat, export_rootfs, write_archive, write_rootfs_tar};
use builder_core::image::{Layout, Remote, StoredImage};
use builder_core::store::Store;
use registry_client::{Descriptor, media_type};
use serde_json::json;

use crate::Failure;
use crate::args::BuildArgs;
use crate::commands::transfer::push_image;
use crate::image_options::{Dest, Output, output, registry_client};
use crate::progress::Numbered;

/// The `--output` values, checked before the build starts; at most one may write to stdout.
pub fn parse_outputs(args: &BuildArgs) -> anyhow::Result<Vec<Output>> {
    let outputs = args
        .outputs
        .iter()
        .map(|o| output(o))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if outputs.iter().filter(|o| writes_stdout(o)).count() > 1 {
        bail!("only one --output can write to standard output (dest=-)");
    }
    Ok(outputs)
}

/// Whether an output writes to standard output (then the digest goes to stderr).
pub fn writes_stdout(output: &Output) -> bool {
    matches!(
        output,
        Output::Archive {
            dest: Dest::Stdout,
            ..
        } | Output::Tar(Dest::Stdout)
    )
}

/// Exports, pushes (as steps of `view`, after the build's) and writes the id and metadata
/// files for `built`.
pub fn finish(
    store: &Store,
    built: &BuiltImage,
    args: &BuildArgs,
    outputs: &[Output],
    view: &Numbered,
) -> Result<(), Failure> {
    let descriptor = Descriptor::new(
        media_type::OCI_MANIFEST,
        built.manifest_digest.clone(),
        built.manifest_size,
    );
    let image = Layout::of_store(store)
        .image(&descriptor, None)?
        .ok_or_else(|| anyhow::anyhow!("the built image is missing from the store"))?;
    for o in outputs {
        export(store, &image, o, &built.tags)?;
    }
    if args.push {
        if built.tags.is_empty() {
            return Err(anyhow::anyhow!("--push needs at least one -t NAME to push to").into());
        }
        let remote = Remote::new(registry_client(&args.registry)?);
        for tag in &built.tags {
            push_image(store, &remote, &image, tag, (view, view.next_id()))?;
        }
    }
    if let Some(path) = &args.iidfile {
        // As buildx: the config digest (the image ID docker shows), without a newline.
        write_file(path, built.config_digest.as_str().as_bytes())?;
    }
    if let Some(path) = &args.metadata_file {
        let metadata = json!({
            "containerimage.config.digest": built.config_digest.as_str(),
            "containerimage.descriptor": {
                "mediaType": descriptor.media_type,
                "digest": descriptor.digest.as_str(),
                "size": descriptor.size,
            },
            "containerimage.digest": built.manifest_digest.as_str(),
            "image.name": built.tags.join(","),
        });
        let bytes = serde_json::to_vec_pretty(&metadata).map_err(anyhow::Error::from)?;
        write_file(path, &bytes)?;
    }
    Ok(())
}

fn export(store: &Store, image: &StoredImage, o: &Output, tags: &[String]) -> Result<(), Failure> {
    match o {
        Output::Local(dir) => {
            export_rootfs(store, image, dir)?;
            Ok(())
        }
        Output::Tar(dest) => to_dest(dest, |w| write_rootfs_tar(store, image, w)),
        Output::Archive {
            docker,
            dest,
            names,
        } => {
            let format = if *docker {
                ArchiveFormat::Docker
            } else {
                ArchiveFormat::Oci
            };
            let names = if names.is_empty() { tags } else { names };
            to_dest(dest, |w| write_archive(store, image, format, names, w))
        }
    }
}

/// Runs `write` on standard output, or on `<file>.tmp` renamed to the file once complete.
fn to_dest(
    dest: &Dest,
    write: impl FnOnce(&mut dyn Write) -> builder_core::Result<()>,
) -> Result<(), Failure> {
    match dest {
        Dest::Stdout => {
            let mut out = std::io::stdout().lock();
            write(&mut out)?;
            out.flush().map_err(anyhow::Error::from)?;
        }
        Dest::File(path) => {
            let tmp = temp_name(path);
            let file =
                File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            let mut out = BufWriter::new(file);
            write(&mut out)?;
            let file = out
                .into_inner()
                .map_err(|e| anyhow::Error::from(e.into_error()))?;
            file.sync_all().map_err(anyhow::Error::from)?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
        }
    }
    Ok(())
}

fn temp_name(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    name.into()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
