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
use crate::commands::stdin_context::StdinKind;
use crate::commands::{build_outputs, stdin_context};
use crate::image_options::{named_context, registry_client};
use crate::options::{
    DockerfileSource, compression, labels, network, plan_options, runtime, snapshotter,
    source_date_epoch, store_root,
};
use crate::progress::{self, Mode, Progress, Terminal};
use crate::{Failure, exit};

/// Runs `hoist build`.
pub fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let mode = progress::choose(args.progress, args.quiet, Terminal::detect())?;
    let plan_options = plan_options(&args.frontend).map_err(Failure::Usage)?;
    let compression = compression(&args.compression).map_err(Failure::Usage)?;
    let source_date_epoch = source_date_epoch(env("SOURCE_DATE_EPOCH")).map_err(Failure::Usage)?;
    let store = Store::open(store_root(&env)?)?;
    // `hoist build -`: the context is a tar (`-f` a path inside it) or a Dockerfile on
    // standard input.
    let stdin_context = if args.context == Path::new("-") {
        if args.frontend.file.as_deref() == Some(Path::new("-")) {
            return Err(Failure::Usage(anyhow::anyhow!(
                "the context and the Dockerfile cannot both come from standard input \
                 (`-` and `-f -`)"
            )));
        }
        let (dir, kind) = stdin_context::read_context(std::io::stdin(), &store.tmp_dir())
            .map_err(Failure::Usage)?;
        if let (StdinKind::Dockerfile, Some(f)) = (kind, &args.frontend.file) {
            return Err(Failure::Usage(anyhow::anyhow!(
                "-f {} names a file in the context, but standard input holds a Dockerfile, \
                 not a tar archive: drop -f, or send a tar of the context",
                f.display()
            )));
        }
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
    let signals = CancelSignals::register()?;
    let run = RunOptions {
        runtime: runtime(&args.runtime).map_err(Failure::Usage)?,
        snapshotter: snapshotter(&args.snapshotter).map_err(Failure::Usage)?,
        cancel: signals.cancel.clone(),
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
    let view = Arc::new(progress::Numbered::new(progress::view(mode)));
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
    if let Some(dir) = &stdin_context {
        stdin_context::forget(&store, dir.path());
    }
    let finished = result.map(|image| {
        let done = build_outputs::finish(&store, &image, args, &outputs, &view);
        (image, done)
    });
    view.close();
    match finished {
        Ok((image, done)) => {
            done?;
            if outputs.iter().any(build_outputs::writes_stdout) {
                eprintln!("{}", image.manifest_digest);
            } else {
                writeln!(out, "{}", image.manifest_digest)?;
            }
            Ok(())
        }
        Err(e) => {
            // Cancelled by a signal: exit as a shell reports a process killed by it (130 for
            // SIGINT, 143 for SIGTERM).
            let code = signals
                .received()
                .map_or_else(|| exit::of_build(&e), exit::signalled);
            if mode == Mode::Json {
                // Programs reading JSON lines get the error as a last JSON object.
                report_json_failure(&e, code);
                Err(Failure::Reported(code))
            } else if signals.received().is_some() {
                eprint!("{}", e.render());
                Err(Failure::Reported(code))
            } else {
                Err(e.into())
            }
        }
    }
}

/// The build's error as the last JSON object of `--progress json`.
fn report_json_failure(e: &builder_core::Error, code: u8) {
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
            "exit_code": code,
        }),
    );
}

/// SIGINT and SIGTERM during a build: they set the build's cancel flag (the build kills its
/// running container, removes its mounts and temporary directories, and fails with
/// "cancelled") and record which signal came, for the exit code.
struct CancelSignals {
    cancel: CancelFlag,
    signal: Arc<std::sync::atomic::AtomicUsize>,
}

impl CancelSignals {
    fn register() -> anyhow::Result<CancelSignals> {
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let signal = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for s in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registered in this order: the number is stored before the flag is set.
            let number = usize::try_from(s).unwrap_or_default();
            signal_hook::flag::register_usize(s, Arc::clone(&signal), number)?;
            signal_hook::flag::register(s, Arc::clone(&flag))?;
        }
        Ok(CancelSignals {
            cancel: CancelFlag::from_arc(flag),
            signal,
        })
    }

    /// The signal received, if any.
    fn received(&self) -> Option<i32> {
        match self.signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }
}
