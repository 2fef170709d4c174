//! `hoist version` and `hoist completions SHELL`.

use std::io::Write;

use clap::CommandFactory;

use crate::Failure;
use crate::args::{Cli, CompletionsArgs};

/// Runs `hoist version`: the version and the platform it runs on.
pub fn run(out: &mut dyn Write) -> Result<(), Failure> {
    writeln!(out, "hoist {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(
        out,
        "platform: {}/{}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )?;
    writeln!(
        out,
        "events schema: v{}",
        crate::progress::json::SCHEMA_VERSION
    )?;
    Ok(())
}

/// Runs `hoist completions SHELL`: the completion script on standard output.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "hoist", out);
    Ok(())
}
