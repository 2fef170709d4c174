//! `hoist build`: flags -> a build request -> the library; plain progress lines on stderr, the
//! image digest on stdout.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use builder_core::SourceFile;
use builder_core::events::{Event, EventSink};
use builder_core::exec::{BaseSources, BuildRequest, Builder, CancelFlag, RunOptions};
use builder_core::image::Remote;
use builder_core::store::Store;

use crate::Failure;
use crate::args::BuildArgs;
use crate::commands::build_outputs;
use crate::image_options::{named_context, registry_client};
use crate::options::{
    DockerfileSource, compression, plan_options, runtime, snapshotter, source_date_epoch,
    store_root,
};

/// BuildKit-style plain progress: `#N [stage i/n] INSTR`, then `#N CACHED` or `#N DONE 0.1s`.
#[derive(Debug, Default)]
pub struct PlainProgress {
    /// Steps answered from the cache: their `DONE` is not printed, as BuildKit does.
    cached: Mutex<BTreeSet<u32>>,
}

impl PlainProgress {
    fn is_cached(&self, id: u32) -> bool {
        self.cached.lock().is_ok_and(|c| c.contains(&id))
    }
}

impl EventSink for PlainProgress {
    fn emit(&self, event: Event) {
        let line = match event {
            Event::StepStarted { id, name } => format!("#{} {name}", id.0),
            Event::StepCached { id } => {
                if let Ok(mut cached) = self.cached.lock() {
                    cached.insert(id.0);
                }
                format!("#{} CACHED", id.0)
            }
            Event::StepDone { id, .. } if self.is_cached(id.0) => return,
            Event::StepDone { id, elapsed } => {
                format!("#{} DONE {:.1}s", id.0, elapsed.as_secs_f64())
            }
            Event::StepLog { id, line, .. } => {
                format!("#{} {}", id.0, String::from_utf8_lossy(&line))
            }
            Event::StepFailed { id, message } => format!("#{} ERROR: {message}", id.0),
            Event::Warning { message } => format!("warning: {message}"),
            _ => return,
        };
        eprintln!("{line}");
    }
}

/// Runs `hoist build`.
pub fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let plan_options = plan_options(&args.frontend)?;
    let compression = compression(&args.compression)?;
    let source_date_epoch = source_date_epoch(env("SOURCE_DATE_EPOCH"))?;
    let source = DockerfileSource::resolve(args.frontend.file.as_deref(), &args.context);
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
        runtime: runtime(&args.runtime)?,
        snapshotter: snapshotter(&args.snapshotter)?,
        cancel: cancel_on_signals()?,
        secrets: crate::secrets::secrets(&args.secrets, &env)?,
        ssh: crate::secrets::ssh(&args.ssh, &env)?,
        jobs: match args.jobs {
            Some(0) => return Err(anyhow::anyhow!("--jobs must be at least 1").into()),
            Some(n) => n,
            None => 0,
        },
    };
    let store = Store::open(store_root(&env)?)?;
    let builder =
        Builder::new(store.clone(), Arc::new(PlainProgress::default())).with_base_sources(sources);
    let image = builder.build(BuildRequest {
        context_dir: args.context.clone(),
        dockerfile: SourceFile::new(name, text),
        dockerfile_path,
        plan_options,
        tags: args.tags.clone(),
        no_cache: args.no_cache,
        compression,
        source_date_epoch,
        run,
    })?;
    for tag in &image.tags {
        eprintln!("naming to {tag}");
    }
    build_outputs::finish(&store, &image, args, &outputs)?;
    if outputs.iter().any(build_outputs::writes_stdout) {
        eprintln!("{}", image.manifest_digest);
    } else {
        writeln!(out, "{}", image.manifest_digest).map_err(anyhow::Error::from)?;
    }
    Ok(())
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
