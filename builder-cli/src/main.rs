//! The `hoist` command: flags -> options -> the builder-core library; errors rendered here.

mod args;
mod commands;
mod image_options;
mod options;
mod secrets;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit codes, documented in README.
mod exit {
    /// A build (or a parse, or a plan) failed.
    pub const FAILED: u8 = 1;
}

/// Why a command failed: an error of the library (rendered with its snippet) or of the CLI.
#[derive(Debug)]
pub enum Failure {
    /// An error with a location in the Dockerfile.
    Build(builder_core::Error),
    /// Anything else (I/O, bad flag values).
    Other(anyhow::Error),
}

impl From<builder_core::Error> for Failure {
    fn from(e: builder_core::Error) -> Self {
        Failure::Build(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let result = match &cli.command {
        Command::Build(args) => commands::build::run(args, &mut stdout),
        Command::Images => commands::images::run(&mut stdout),
        Command::Pull(args) => commands::transfer::pull(args, &mut stdout),
        Command::Push(args) => commands::transfer::push(args, &mut stdout),
        Command::Debug(command) => commands::debug::run(command, &mut stdout),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Build(e)) => {
            eprint!("{}", e.render());
            ExitCode::from(exit::FAILED)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}
