//! `hoist build`: flags -> a build request -> the library; progress on standard error (see
//! [`crate::progress`]), the image digest on standard output.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use builder_core::SourceFile;
use builder_core::events::EventSink;
use builder_core::exec::{BaseSources, BuildRequest, Builder, CancelFlag, RunOptions};
use builder_core::image::Remote;
use builder_core::store::Store;

use crate::args::BuildArgs;
use crate::commands::{build_outputs, stdin_context};
use crate::image_options::{named_context, registry_client};
use crate::options::{
    DockerfileSource, compression, labels, network, plan_options, runtime, snapshotter,
    source_date_epoch, store_root,
};
use crate::progress::{self, Mode, Terminal};
use crate::{Failure, exit};

/// Runs `hoist build`.
pub fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let mode = progress::choose(args.progress, args.quiet, Terminal::detect())?;
    let plan_options = plan_options(&args.frontend).map_err(Failure::Usage)?;
    let compression = compression(&args.compression).map_err(Failure::Usage)?;
    let source_date_epoch = source_date_epoch(env("SOURCE_DATE_EPOCH")).map_err(Failure::Usage)?;
    let store = Store::open(store_root(&env)?)?;
    // `hoist build -`: the context is a tar on standard input, and `-f` a path inside it.
    let stdin_context = if args.context == Path::new("-") {
        if args.frontend.file.as_deref() == Some(Path::new("-")) {
            return Err(Failure::Usage(anyhow::anyhow!(
                "the context and the Dockerfile cannot both come from standard input \
                 (`-` and `-f -`)"
            )));
        }
        let dir = stdin_context::extract_context(std::io::stdin().lock(), &store.tmp_dir())
            .map_err(Failure::Usage)?;
        Some(dir)
    } else {
        None
    };
    let context_dir = stdin_context
        .as_ref()
        .map_or_else(|| args.context.clone(), |d| d.path().to_owned());
    let file = match (&stdin_context, &args.frontend.file) {
        (Some(dir), Some(f)) => Some(dir.path().join(f)),
        (_, f) => f.clone(),
    };
    let source = DockerfileSource::resolve(file.as_deref(), &context_dir);
    let (name, text) = source.read()?;
    let dockerfile_path = match &source {
        DockerfileSource::Path(p) => Some(p.clone()),
        DockerfileSource::Stdin => None,
    };
    let outputs = build_outputs::parse_outputs(args)?;
    let mut sources = BaseSources {
        always_pull: args.pull,
        remote: Some(Remote::new(registry_client(&args.registry)?)),
        ..BaseSources::default()
    };
    for raw in &args.build_contexts {
        let (name, context) = named_context(raw)?;
        sources.named_contexts.insert(name, context);
    }
    let run = RunOptions {
        runtime: runtime(&args.runtime).map_err(Failure::Usage)?,
        snapshotter: snapshotter(&args.snapshotter).map_err(Failure::Usage)?,
        cancel: cancel_on_signals()?,
        network: network(&args.network).map_err(Failure::Usage)?,
        secrets: crate::secrets::secrets(&args.secrets, &env)?,
        ssh: crate::secrets::ssh(&args.ssh, &env)?,
        jobs: match args.jobs {
            Some(0) => return Err(anyhow::anyhow!("--jobs must be at least 1").into()),
            Some(n) => n,
            None => 0,
        },
    };
    let labels = labels(&args.labels).map_err(Failure::Usage)?;
    let view = progress::view(mode);
    let sink: Arc<dyn EventSink> = view.clone();
    let builder = Builder::new(store.clone(), sink).with_base_sources(sources);
    let result = builder.build(BuildRequest {
        context_dir,
        dockerfile: SourceFile::new(name, text),
        dockerfile_path,
        plan_options,
        tags: args.tags.clone(),
        no_cache: args.no_cache,
        compression,
        source_date_epoch,
        run,
        labels,
    });
    view.close();
    if let Some(dir) = &stdin_context {
        stdin_context::forget(&store, dir.path());
    }
    match result {
        Ok(image) => {
            build_outputs::finish(&store, &image, args, &outputs)?;
            if outputs.iter().any(build_outputs::writes_stdout) {
                eprintln!("{}", image.manifest_digest);
            } else {
                writeln!(out, "{}", image.manifest_digest)?;
            }
            Ok(())
        }
        // Programs reading JSON lines get the error as a last JSON object.
        Err(e) if mode == Mode::Json => {
            let json = progress::json::JsonProgress::new(Box::new(std::io::stderr()));
            let location = e
                .location()
                .map(|l| format!("{}:{}", l.file.name(), l.span));
            json.write(
                "build_failed",
                serde_json::json!({
                    "message": progress::plain::first_line(&e.kind().to_string()),
                    "location": location,
                    "rendered": e.render(),
                    "exit_code": exit::FAILED,
                }),
            );
            Err(Failure::Reported(exit::FAILED))
        }
        Err(e) => Err(e.into()),
    }
}

/// A flag set by SIGINT or SIGTERM: the build kills its running container, removes its mounts
/// and temporary directories, and fails with "cancelled".
fn cancel_on_signals() -> anyhow::Result<CancelFlag> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    Ok(CancelFlag::from_arc(flag))
}
