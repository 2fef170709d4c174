//! [`Ast`](crate::dockerfile::Ast) -> typed [`Instruction`]s grouped in [`Stage`]s.
//!
//! Every flag of the Dockerfile reference becomes a typed field; an unknown instruction,
//! an unknown flag, a bad flag value or a wrong argument count is an error naming it, located
//! at the instruction. Words are kept as written: expanding variables is the planner's job,
//! because it depends on build arguments and the base image's environment.

mod chmod;
mod display;
mod error;
mod flags;
mod health;
mod mount;
mod parse;

use std::sync::Arc;
use std::time::Duration;

pub use chmod::Chmod;
pub use error::InstructionError;
pub use health::format_go_duration;
pub use mount::{Mount, MountSpec, MountType, Sharing};
pub use parse::{parse, parse_instruction};

use crate::dockerfile::{Heredoc, Warning};
use crate::source::{SourceFile, Span};

/// A Dockerfile as typed instructions: global ARGs, then stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The file the spans point into.
    pub source: Arc<SourceFile>,
    /// The escape character in force.
    pub escape: char,
    /// `ARG` instructions before the first `FROM` (usable in `FROM` lines).
    pub meta_args: Vec<Step>,
    /// The stages, in file order.
    pub stages: Vec<Stage>,
    /// Parse warnings carried over from the parser.
    pub warnings: Vec<Warning>,
}

/// One stage: a `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage's position in the file, from 0.
    pub index: usize,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The `FROM` instruction.
    pub from: From,
    /// Where the `FROM` is.
    pub span: Span,
    /// The instructions after `FROM`.
    pub steps: Vec<Step>,
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do.
    pub instruction: Instruction,
    /// Where it is written.
    pub span: Span,
    /// The text as written (continuations joined), for history and messages.
    pub original: String,
}

/// Every Dockerfile instruction, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `FROM [--platform=p] image [AS name]`.
    From(From),
    /// `RUN [--mount ...] [--network ...] [--security ...] command`.
    Run(Run),
    /// `CMD`.
    Cmd(CommandLine),
    /// `ENTRYPOINT`.
    Entrypoint(CommandLine),
    /// `COPY`.
    Copy(Copy),
    /// `ADD`.
    Add(Add),
    /// `ENV k=v ...`.
    Env(Vec<KeyValue>),
    /// `LABEL k=v ...`.
    Label(Vec<KeyValue>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`.
    Workdir(String),
    /// `USER user[:group]`.
    User(String),
    /// `VOLUME paths`.
    Volume(Vec<String>),
    /// `EXPOSE port[/proto] ...`.
    Expose(Vec<String>),
    /// `STOPSIGNAL signal`.
    StopSignal(String),
    /// `SHELL ["exe", "arg"]`.
    Shell(Vec<String>),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `ONBUILD instruction`.
    Onbuild(Onbuild),
    /// `MAINTAINER name` (deprecated; becomes the `author` field).
    Maintainer(String),
}

impl Instruction {
    /// The keyword in upper case (`RUN`, `COPY`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Label(_) => "LABEL",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Shell(_) => "SHELL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The base: an image reference, a stage name or `scratch` (unexpanded).
    pub image: String,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
}

/// A command in shell form or exec (JSON) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// Shell form: run through the stage's `SHELL`.
    Shell(String),
    /// Exec form: run as is.
    Exec(Vec<String>),
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The command.
    pub command: CommandLine,
    /// Heredoc bodies (scripts or files for the command).
    pub heredocs: Vec<Heredoc>,
    /// `--mount` flags, in order.
    pub mounts: Vec<MountSpec>,
    /// `--network`.
    pub network: Option<NetworkMode>,
    /// `--security`.
    pub security: Option<SecurityMode>,
}

/// `RUN --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkMode {
    /// The builder's default network (the host's, for Hoist).
    Default,
    /// No network: a fresh network namespace with only loopback.
    None,
    /// The host's network namespace.
    Host,
}

/// `RUN --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityMode {
    /// The default sandbox.
    Sandbox,
    /// Full privileges (needs an explicit entitlement).
    Insecure,
}

/// What `COPY` and `ADD` share: sources, destination, ownership and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// Source paths or URLs, as written.
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /dest`).
    pub inline: Vec<InlineSource>,
    /// The destination, as written.
    pub dest: String,
    /// `--chown=user[:group]`, unexpanded.
    pub chown: Option<String>,
    /// `--chmod`: typed when it holds no variable.
    pub chmod: Option<ChmodSpec>,
    /// `--link`.
    pub link: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
}

/// A `--chmod` value, typed when it holds no variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChmodSpec {
    /// Validated.
    Parsed(Chmod),
    /// Holds `$`; validated after expansion.
    Unexpanded(String),
}

/// A file given inline by a heredoc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineSource {
    /// The file name (the heredoc's delimiter).
    pub name: String,
    /// The content (tab-stripped for `<<-`).
    pub content: String,
    /// Whether variables in the content are expanded (unquoted delimiter).
    pub expand: bool,
}

/// `COPY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Sources, destination and options shared with `ADD`.
    pub spec: CopySpec,
    /// `--from=<stage|image|context>`.
    pub from: Option<String>,
    /// `--parents`.
    pub parents: bool,
}

/// `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    /// Sources, destination and options shared with `COPY`.
    pub spec: CopySpec,
    /// `--keep-git-dir`.
    pub keep_git_dir: bool,
    /// `--checksum=<sha256:...|commit>`.
    pub checksum: Option<String>,
    /// `--unpack` (unset: local archives are unpacked, remote ones are not).
    pub unpack: Option<bool>,
}

/// A `key=value` pair of `ENV` or `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, unexpanded.
    pub key: String,
    /// The value, unexpanded (quotes still in place).
    pub value: String,
}

/// One name of an `ARG` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The variable name.
    pub name: String,
    /// The default value, unexpanded.
    pub default: Option<String>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited healthcheck.
    None,
    /// `HEALTHCHECK [options] CMD command`.
    Check(HealthConfig),
}

/// The options and command of `HEALTHCHECK CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// The test: shell form becomes `CMD-SHELL`, exec form `CMD`.
    pub command: CommandLine,
    /// `--interval`.
    pub interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--start-period`.
    pub start_period: Option<Duration>,
    /// `--start-interval`.
    pub start_interval: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
}

/// `ONBUILD`: a trigger stored in the image and run by a downstream `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger text as stored in the image config (`RUN echo hi`).
    pub expression: String,
    /// The trigger, parsed (validated now, run downstream).
    pub trigger: Box<Instruction>,
}
