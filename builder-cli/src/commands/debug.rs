//! `hoist debug ast` and `hoist debug plan`.

use std::io::Write;

use anyhow::Result;
use builder_core::dockerfile::{self, Warning};
use builder_core::plan::{self, OfflineResolver};
use builder_core::{SourceFile, instructions};

use crate::Failure;
use crate::args::{DebugCommand, PlanArgs};
use crate::options::{DockerfileSource, plan_options};

/// Runs a `hoist debug` command, writing its output to `out`.
pub fn run(command: &DebugCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        DebugCommand::Ast { file } => {
            let source = DockerfileSource::resolve(Some(file), file);
            let (name, text) = source.read()?;
            let file = SourceFile::new(name, text);
            let ast = dockerfile::parse(&file)?;
            print_warnings(&file, &ast.warnings);
            out.write_all(ast.dump().as_bytes())
                .map_err(anyhow::Error::from)?;
            Ok(())
        }
        DebugCommand::Plan(args) => plan_command(args, out),
    }
}

fn plan_command(args: &PlanArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let options = plan_options(&args.frontend).map_err(Failure::Usage)?;
    let source = DockerfileSource::resolve(args.frontend.file.as_deref(), &args.context);
    let (name, text) = source.read()?;
    let file = SourceFile::new(name, text);
    let ast = dockerfile::parse(&file)?;
    let typed = instructions::parse(&ast)?;
    let plan = plan::plan(&typed, &options, &OfflineResolver)?;
    print_warnings(&file, &plan.warnings);
    write!(out, "{plan}").map_err(anyhow::Error::from)?;
    Ok(())
}

fn print_warnings(file: &SourceFile, warnings: &[Warning]) {
    for w in warnings {
        if w.span.start.line == 0 {
            eprintln!("warning: {}", w.short);
        } else {
            eprintln!(
                "warning: {}:{}:{}: {}",
                file.name(),
                w.span.start.line,
                w.span.start.column,
                w.short
            );
        }
    }
}
