//! Command-line flags, as clap parses them: raw values only, no validation beyond clap's.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The exit codes, shown under `hoist --help` and `hoist build --help` (README: "Exit codes").
const EXIT_CODES: &str = "\
Exit codes:
  0         success
  1         the build failed, or the command could not do what it was asked
  2         usage error (unknown or conflicting flag, missing argument, invalid value)
  3         a registry rejected the credentials or denied access (run `hoist login`)
  4         a registry could not be reached or answered with another error
  130, 143  the build was cancelled by SIGINT (Ctrl-C) or SIGTERM
  101       a bug in hoist (please report it)";

/// Hoist: a daemonless container image builder.
#[derive(Debug, Parser)]
#[command(name = "hoist", version, about, long_about = None, after_help = EXIT_CODES)]
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
    /// Show an image's manifest, config and history.
    Inspect(InspectArgs),
    /// Remove image tags from the local store (`hoist prune` then frees the space).
    Rmi(RmiArgs),
    /// Give an image another tag.
    Tag(TagArgs),
    /// Remove build cache, unreferenced blobs, unused snapshots and temporary files.
    Prune(PruneArgs),
    /// Log in to a registry (saves the credentials in docker's config.json).
    Login(LoginArgs),
    /// Log out from a registry (removes its credentials from docker's config.json).
    Logout(LogoutArgs),
    /// Print the version of hoist and of what it was built with.
    Version,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
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
    /// The build context directory, or `-` for a tar archive (optionally gzip or zstd
    /// compressed) on standard input.
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
    /// Read build-time variables from a file: one `NAME=VALUE` (or `NAME`) per line, `#`
    /// comments and blank lines skipped; `--build-arg` wins. Repeatable.
    #[arg(long = "build-arg-file", value_name = "FILE")]
    pub build_arg_files: Vec<PathBuf>,
    /// Set the target platform (e.g. linux/amd64).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Allow extra privileged entitlements (security.insecure).
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
}

/// Flags of `hoist build`, named as `docker build` names them.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
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
    /// Set a label on the image (`KEY=VALUE`); repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The network of RUN steps without `RUN --network`: `default` (the host's), `host` or
    /// `none`.
    #[arg(long, value_name = "MODE", default_value = "default")]
    pub network: String,
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
    /// How to show progress: `auto` (tty on a terminal, else plain), `tty`, `plain`, `json`.
    #[arg(long, value_enum, default_value = "auto", value_name = "TYPE")]
    pub progress: ProgressArg,
    /// Print only the image digest (no progress).
    #[arg(short = 'q', long, conflicts_with = "progress")]
    pub quiet: bool,
    /// The build context directory, or `-` for standard input: a tar archive (plain, gzip,
    /// bzip2, xz or zstd) of the context, or a Dockerfile alone (an empty context).
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
    /// How to show progress.
    #[command(flatten)]
    pub progress: TransferProgressArgs,
}

/// `hoist push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image's name in the store, which is also where it is pushed.
    pub reference: String,
    /// Registry settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// How to show progress.
    #[command(flatten)]
    pub progress: TransferProgressArgs,
}

/// The progress flags of `hoist pull` and `hoist push`.
#[derive(Debug, Args)]
pub struct TransferProgressArgs {
    /// How to show progress: `auto` (tty on a terminal, else plain), `tty`, `plain`, `json`.
    #[arg(long, value_enum, default_value = "auto", value_name = "TYPE")]
    pub progress: ProgressArg,
    /// Print only the manifest digest (no progress).
    #[arg(short = 'q', long, conflicts_with = "progress")]
    pub quiet: bool,
}

/// `--progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    /// `tty` when standard error is a terminal and `CI` is unset, else `plain`.
    Auto,
    /// A live view of the running steps.
    Tty,
    /// BuildKit-style numbered lines, for logs.
    Plain,
    /// One JSON object per event per line (schema: docs/events.schema.json).
    Json,
}

/// `hoist inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Output format: `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: InspectFormat,
    /// The image: a tag (`name[:tag]`), a digest (`sha256:...`) or a digest prefix.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `hoist inspect --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    /// A readable summary.
    Text,
    /// The manifest, config and history as one JSON object.
    Json,
}

/// `hoist rmi` flags.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// The images: tags, or digests (every tag of the digest is removed).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `hoist tag` flags.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to tag (a tag or a digest).
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The new tag (`name[:tag]`).
    #[arg(value_name = "TARGET")]
    pub target: String,
}

/// `hoist prune` flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all build cache, not only the cache no image uses.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Keep this much build cache, newest first (e.g. `500MB`, `2GiB`).
    #[arg(long, value_name = "SIZE")]
    pub keep_storage: Option<String>,
    /// List every removed item, not only the totals.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `hoist login` flags, as `docker login` names them.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (`docker.io` when omitted), e.g. `ghcr.io` or `localhost:5000`.
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
    /// The user name (asked for when omitted and standard input is a terminal).
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Read the password (or token) from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Not supported, on purpose: a password on the command line ends up in shell history.
    #[arg(short = 'p', long, hide = true, value_name = "PASSWORD")]
    pub password: Option<String>,
}

/// `hoist logout` flags.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (`docker.io` when omitted).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `hoist completions` flags.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
