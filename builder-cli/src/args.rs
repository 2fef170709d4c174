//! Command-line flags, as clap parses them: raw values only, no validation beyond clap's.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Hoist: a daemonless container image builder.
#[derive(Debug, Parser)]
#[command(name = "hoist", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile into the local store.
    Build(Box<BuildArgs>),
    /// List the tagged images in the local store.
    Images,
    /// Pull an image from a registry into the local store.
    Pull(PullArgs),
    /// Push an image of the local store to a registry.
    Push(PushArgs),
    /// Look inside Hoist's frontend: the parsed Dockerfile and the build plan.
    #[command(subcommand)]
    Debug(DebugCommand),
}

/// `hoist debug ...`.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print a Dockerfile's syntax tree in BuildKit's dump format, one instruction per line.
    Ast {
        /// The Dockerfile (`-` for standard input).
        file: PathBuf,
    },
    /// Print the stages a build would run, in order, with every instruction expanded.
    Plan(PlanArgs),
}

/// Flags of `hoist debug plan`, named as `docker build` names them.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What decides the plan.
    #[command(flatten)]
    pub frontend: FrontendArgs,
    /// The build context directory.
    pub context: PathBuf,
}

/// The flags `hoist build` and `hoist debug plan` share: what decides the plan.
#[derive(Debug, Args)]
pub struct FrontendArgs {
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile; `-` for standard input).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Set the target build stage to build.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Set a build-time variable (`NAME=VALUE`, or `NAME` to take it from the environment).
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub build_args: Vec<String>,
    /// Set the target platform (e.g. linux/amd64).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Allow extra privileged entitlements (security.insecure).
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
}

/// Flags of `hoist build`, named as `docker build` names them.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What decides the plan.
    #[command(flatten)]
    pub frontend: FrontendArgs,
    /// Name and optionally a tag (`name:tag`) for the image; repeatable.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Layer compression: `gzip[:LEVEL]`, `zstd[:LEVEL]` or `none`.
    #[arg(long, value_name = "ALGO[:LEVEL]", default_value = "gzip")]
    pub compression: String,
    /// The OCI runtime for RUN steps: `runc` (default) or `crun`.
    #[arg(
        long,
        value_name = "RUNTIME",
        env = "HOIST_RUNTIME",
        default_value = "runc"
    )]
    pub runtime: String,
    /// How RUN steps see their filesystem: `auto` (overlayfs, else naive), `overlay`, `naive`.
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub snapshotter: String,
    /// A secret for RUN --mount=type=secret: `id=ID,src=PATH` or `id=ID,env=VAR`; repeatable.
    #[arg(long = "secret", value_name = "id=ID,src=PATH|env=VAR")]
    pub secrets: Vec<String>,
    /// An SSH agent socket for RUN --mount=type=ssh: `default`, `ID=SOCKET`; repeatable.
    #[arg(long = "ssh", value_name = "default|ID[=SOCKET]")]
    pub ssh: Vec<String>,
    /// How many stages may build at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Always attempt to pull every referenced image, even when the store has it.
    #[arg(long)]
    pub pull: bool,
    /// Additional build context (`NAME=DIR`, `NAME=oci-layout://DIR[:TAG]`,
    /// `NAME=docker-image://REF`); repeatable.
    #[arg(long = "build-context", value_name = "NAME=VALUE")]
    pub build_contexts: Vec<String>,
    /// Output destination (`type=oci|docker|tar,dest=FILE|-`, `type=local,dest=DIR`, or a
    /// directory); repeatable.
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Push the image to every `-t` name.
    #[arg(long)]
    pub push: bool,
    /// Write the image ID (the config digest) to the file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write build result metadata (digests, names) as JSON to the file.
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Registry settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The build context directory.
    pub context: PathBuf,
}

/// Flags of the commands that talk to registries.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Talk plain HTTP to this registry (`HOST[:PORT]`; loopback registries always are).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

/// `hoist pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image (`alpine:3.20`, `registry.lan:5000/app:1`).
    pub reference: String,
    /// The platform to pull (default: the host's).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Registry settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `hoist push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image's name in the store, which is also where it is pushed.
    pub reference: String,
    /// Registry settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}
