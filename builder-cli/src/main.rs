//! The `hoist` command: flags -> options -> the builder-core library; errors rendered here.

mod args;
mod commands;
mod image_options;
mod options;
mod progress;
mod secrets;
mod size;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit codes, documented in README ("Exit codes").
pub mod exit {
    /// The build failed, or the command could not do what it was asked (no such image, ...).
    pub const FAILED: u8 = 1;
    /// Usage error: unknown or conflicting flags, a missing argument, an invalid value.
    pub const USAGE: u8 = 2;
    /// A registry refused the credentials, or asked for some (run `hoist login`).
    pub const AUTH: u8 = 3;
    /// A registry could not be reached or answered with an error.
    pub const REGISTRY: u8 = 4;
    /// A bug in hoist (a panic); the message asks for a report.
    pub const INTERNAL: u8 = 101;

    /// A build cancelled by signal `signal`: 128 + its number, as shells report a process it
    /// killed (130 for SIGINT, 143 for SIGTERM).
    pub fn signalled(signal: i32) -> u8 {
        u8::try_from(128 + signal.clamp(1, 127)).unwrap_or(FAILED)
    }

    /// The code of a registry client error: [`AUTH`] for refused credentials, else
    /// [`REGISTRY`].
    pub fn of_registry(e: &registry_client::Error) -> u8 {
        match e.kind() {
            registry_client::ErrorKind::Unauthorized | registry_client::ErrorKind::Denied => AUTH,
            _ => REGISTRY,
        }
    }

    /// The code of a library error: a registry's refusal (a pull or push) keeps the registry's
    /// codes, anything else is [`FAILED`].
    pub fn of_build(e: &builder_core::Error) -> u8 {
        use builder_core::ErrorKind;
        use builder_core::image::TransferError;
        match e.kind() {
            ErrorKind::Transfer(TransferError::Registry { cause, .. }) => {
                of_registry(cause.error())
            }
            _ => FAILED,
        }
    }
}

/// Why a command failed; each kind has its exit code and rendering.
#[derive(Debug)]
pub enum Failure {
    /// An error of the library, rendered with its Dockerfile snippet when it has one.
    Build(builder_core::Error),
    /// A registry error: the registry, the status and what to do.
    Registry(registry_client::Error),
    /// A flag or argument value the command cannot use.
    Usage(anyhow::Error),
    /// Anything else (I/O, no such image).
    Other(anyhow::Error),
    /// Already reported on standard error (as a JSON event); exit with this code.
    Reported(u8),
}

impl Failure {
    /// A usage error with this message.
    pub fn usage(message: impl std::fmt::Display) -> Failure {
        Failure::Usage(anyhow::anyhow!("{message}"))
    }

    /// The exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Build(e) => exit::of_build(e),
            Failure::Other(_) => exit::FAILED,
            Failure::Usage(_) => exit::USAGE,
            Failure::Registry(e) => exit::of_registry(e),
            Failure::Reported(code) => *code,
        }
    }

    /// The text shown on standard error (ends with a newline; empty when already reported).
    pub fn render(&self) -> String {
        match self {
            Failure::Build(e) => e.render(),
            Failure::Registry(e) => format!("error: {e}\n"),
            Failure::Usage(e) => {
                format!("error: {e:#}\n\nFor more information, try '--help'.\n")
            }
            Failure::Other(e) => format!("error: {e:#}\n"),
            Failure::Reported(_) => String::new(),
        }
    }

    /// Whether this is a closed standard output (`hoist images | head`): not worth a message.
    fn is_broken_pipe(&self) -> bool {
        match self {
            Failure::Other(e) => e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe),
            _ => false,
        }
    }
}

impl From<builder_core::Error> for Failure {
    fn from(e: builder_core::Error) -> Self {
        Failure::Build(e)
    }
}

impl From<registry_client::Error> for Failure {
    fn from(e: registry_client::Error) -> Self {
        Failure::Registry(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Other(e.into())
    }
}

/// A panic is a bug: one line saying so, no backtrace unless `RUST_BACKTRACE` asks for one.
fn report_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            default(info);
        } else {
            eprintln!("error: internal error in hoist (please report it): {info}");
        }
    }));
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match &cli.command {
        Command::Build(args) => commands::build::run(args, &mut stdout),
        Command::Images => commands::images::run(&mut stdout),
        Command::Pull(args) => commands::transfer::pull(args, &mut stdout),
        Command::Push(args) => commands::transfer::push(args, &mut stdout),
        Command::Inspect(args) => commands::inspect::run(args, &mut stdout),
        Command::Rmi(args) => commands::tags::rmi(args, &mut stdout),
        Command::Tag(args) => commands::tags::tag(args),
        Command::Prune(args) => commands::prune::run(args, &mut stdout),
        Command::Login(args) => commands::login::login(args, &mut stdout),
        Command::Logout(args) => commands::login::logout(args, &mut stdout),
        Command::Version => commands::version::run(&mut stdout),
        Command::Completions(args) => commands::version::completions(args, &mut stdout),
        Command::Debug(command) => commands::debug::run(command, &mut stdout),
    }
}

fn main() -> ExitCode {
    report_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            // Printing help to a closed pipe is not an error worth reporting.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match std::panic::catch_unwind(|| run(&cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) if failure.is_broken_pipe() => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            eprint!("{}", failure.render());
            ExitCode::from(failure.exit_code())
        }
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}
