//! Instructions written back as canonical Dockerfile text (for `hoist debug plan` and logs).
//!
//! Words that need it are quoted as JSON strings; heredoc bodies follow their instruction.

use std::fmt::{self, Write};

use super::{
    ChmodSpec, CommandLine, CopySpec, Healthcheck, Instruction, Mount, MountSpec, NetworkMode,
    SecurityMode, format_go_duration,
};

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())?;
        match self {
            Instruction::From(from) => {
                if let Some(p) = &from.platform {
                    write!(f, " --platform={p}")?;
                }
                write!(f, " {}", from.image)?;
                if let Some(n) = &from.name {
                    write!(f, " AS {n}")?;
                }
                Ok(())
            }
            Instruction::Run(run) => {
                for m in &run.mounts {
                    match m {
                        MountSpec::Parsed(m) => write!(f, " --mount={}", MountText(m))?,
                        MountSpec::Unexpanded(raw) => write!(f, " --mount={raw}")?,
                    }
                }
                if let Some(n) = run.network {
                    let n = match n {
                        NetworkMode::Default => "default",
                        NetworkMode::None => "none",
                        NetworkMode::Host => "host",
                    };
                    write!(f, " --network={n}")?;
                }
                if let Some(s) = run.security {
                    let s = match s {
                        SecurityMode::Sandbox => "sandbox",
                        SecurityMode::Insecure => "insecure",
                    };
                    write!(f, " --security={s}")?;
                }
                write!(f, " {}", CommandText(&run.command))?;
                for h in &run.heredocs {
                    write!(f, "\n{}{}", h.content, h.name)?;
                }
                Ok(())
            }
            Instruction::Cmd(c) | Instruction::Entrypoint(c) => write!(f, " {}", CommandText(c)),
            Instruction::Copy(c) => {
                if let Some(from) = &c.from {
                    write!(f, " --from={from}")?;
                }
                if c.parents {
                    f.write_str(" --parents")?;
                }
                copy_spec(f, &c.spec)
            }
            Instruction::Add(a) => {
                if a.keep_git_dir {
                    f.write_str(" --keep-git-dir")?;
                }
                if let Some(c) = &a.checksum {
                    write!(f, " --checksum={c}")?;
                }
                if let Some(u) = a.unpack {
                    write!(f, " --unpack={u}")?;
                }
                copy_spec(f, &a.spec)
            }
            Instruction::Env(kvs) | Instruction::Label(kvs) => {
                for kv in kvs {
                    write!(f, " {}={}", word(&kv.key), word(&kv.value))?;
                }
                Ok(())
            }
            Instruction::Arg(decls) => {
                for d in decls {
                    match &d.default {
                        Some(v) => write!(f, " {}={}", d.name, word(v))?,
                        None => write!(f, " {}", d.name)?,
                    }
                }
                Ok(())
            }
            Instruction::Workdir(s)
            | Instruction::User(s)
            | Instruction::StopSignal(s)
            | Instruction::Maintainer(s) => write!(f, " {s}"),
            Instruction::Volume(vs) | Instruction::Shell(vs) => write!(f, " {}", json_list(vs)),
            Instruction::Expose(ports) => {
                for p in ports {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
            Instruction::Healthcheck(Healthcheck::None) => f.write_str(" NONE"),
            Instruction::Healthcheck(Healthcheck::Check(h)) => {
                let durations = [
                    ("interval", h.interval),
                    ("timeout", h.timeout),
                    ("start-period", h.start_period),
                    ("start-interval", h.start_interval),
                ];
                for (name, d) in durations {
                    if let Some(d) = d {
                        write!(f, " --{name}={}", format_go_duration(d))?;
                    }
                }
                if let Some(r) = h.retries {
                    write!(f, " --retries={r}")?;
                }
                write!(f, " CMD {}", CommandText(&h.command))
            }
            Instruction::Onbuild(o) => write!(f, " {}", o.expression),
        }
    }
}

fn copy_spec(f: &mut fmt::Formatter<'_>, spec: &CopySpec) -> fmt::Result {
    if let Some(c) = &spec.chown {
        write!(f, " --chown={c}")?;
    }
    match &spec.chmod {
        Some(ChmodSpec::Parsed(c)) => write!(f, " --chmod={c}")?,
        Some(ChmodSpec::Unexpanded(raw)) => write!(f, " --chmod={raw}")?,
        None => {}
    }
    if spec.link {
        f.write_str(" --link")?;
    }
    for e in &spec.excludes {
        write!(f, " --exclude={e}")?;
    }
    let mut words: Vec<String> = spec.sources.clone();
    words.extend(spec.inline.iter().map(|s| format!("<<{}", s.name)));
    words.push(spec.dest.clone());
    if words.iter().any(|w| needs_quotes(w)) {
        write!(f, " {}", json_list(&words))?;
    } else {
        for w in &words {
            write!(f, " {w}")?;
        }
    }
    for s in &spec.inline {
        write!(f, "\n{}{}", s.content, s.name)?;
    }
    Ok(())
}

struct CommandText<'a>(&'a CommandLine);

impl fmt::Display for CommandText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CommandLine::Shell(s) => f.write_str(s),
            CommandLine::Exec(args) => f.write_str(&json_list(args)),
        }
    }
}

struct MountText<'a>(&'a Mount);

impl fmt::Display for MountText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let mut out = format!("type={}", m.mount_type().as_str());
        let mut opt = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                let _ = write!(out, ",{k}={v}");
            }
        };
        opt("id", m.id.clone());
        opt("target", m.target.clone());
        opt("source", m.source.clone());
        opt("from", m.from.clone());
        opt(
            "sharing",
            m.sharing.map(|s| format!("{s:?}").to_lowercase()),
        );
        opt("mode", m.mode.map(|v| format!("{v:04o}")));
        opt("uid", m.uid.map(|v| v.to_string()));
        opt("gid", m.gid.map(|v| v.to_string()));
        opt("size", m.size.map(|v| v.to_string()));
        opt("env", m.env.clone());
        let default_ro = !matches!(
            m.mount_type(),
            super::MountType::Cache | super::MountType::Tmpfs
        );
        if m.readonly != default_ro {
            out.push_str(if m.readonly { ",ro" } else { ",rw" });
        }
        if m.required {
            out.push_str(",required");
        }
        f.write_str(&out)
    }
}

fn needs_quotes(w: &str) -> bool {
    w.is_empty()
        || w.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\')
}

/// `value`, JSON-quoted when it holds whitespace, quotes or backslashes, or is empty.
fn word(value: &str) -> String {
    if needs_quotes(value) {
        serde_json::Value::from(value).to_string()
    } else {
        value.to_string()
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}
