//! The plan as text, for `hoist debug plan`: the kept stages in execution order, each
//! instruction expanded, one per line (heredoc bodies and multi-line words indented).

use std::fmt;

use super::{Base, Plan, PlannedStage};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, stage) in self.stages.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            write!(f, "{stage}")?;
        }
        if !self.proxy_env.is_empty() {
            let names: Vec<&str> = self.proxy_env.iter().map(|(k, _)| k.as_str()).collect();
            writeln!(f, "\n# proxy args for every RUN: {}", names.join(" "))?;
        }
        Ok(())
    }
}

impl fmt::Display for PlannedStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        let base = match &self.base {
            Base::Scratch => "scratch".to_string(),
            Base::Image(r) => r.clone(),
            Base::Stage(i) => format!("stage {i}"),
        };
        writeln!(
            f,
            "# stage {}{name} (line {}): FROM {base} [{}]",
            self.index, self.span.start.line, self.platform
        )?;
        for step in &self.steps {
            let text = step.step.instruction.to_string();
            let mut lines = text.lines();
            let first = lines.next().unwrap_or_default();
            let mut notes = Vec::new();
            if step.is_trigger {
                notes.push("onbuild trigger".to_string());
            }
            if let Some(i) = step.from_stage {
                notes.push(format!("from stage {i}"));
            }
            if matches!(
                step.step.instruction,
                crate::instructions::Instruction::Run(_)
            ) && !step.args.is_empty()
            {
                let args: Vec<String> = step.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
                notes.push(format!("args: {}", args.join(" ")));
            }
            if notes.is_empty() {
                writeln!(f, "{first}")?;
            } else {
                writeln!(f, "{first}    # {}", notes.join("; "))?;
            }
            for line in lines {
                writeln!(f, "    | {line}")?;
            }
        }
        Ok(())
    }
}
