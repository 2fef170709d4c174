//! The `created_by` text BuildKit records in `history` for each instruction.
//!
//! Copied from `moby/buildkit` `frontend/dockerfile/dockerfile2llb/convert.go` (`dispatch*` and
//! `commitToHistory`), `convert_copy.go` (`dispatchCopy`) and `convert_expose.go`:
//!
//! | instruction | text |
//! |---|---|
//! | `RUN` | `RUN [|N k=v ...] <argv joined by spaces> # buildkit` (N = ARGs in scope) |
//! | `COPY`/`ADD` | `COPY [--parents] [--chown=u] [--chmod=m] src... [<<doc...] dest # buildkit` |
//! | `WORKDIR` | `WORKDIR <resolved absolute path>` (a layer unless it is `/`) |
//! | `ENV`/`LABEL` | `ENV k=v k2=v2` |
//! | `ARG` | `ARG k=v k2` |
//! | `CMD`/`ENTRYPOINT` | `CMD ["/bin/sh" "-c" "x"]` (Go `%q` of the argv) |
//! | `EXPOSE` | `EXPOSE [80/tcp 53/udp]` (Go `%v` of the parsed ports) |
//! | `VOLUME`/`SHELL` | `VOLUME [/a /b]` (Go `%v`) |
//! | `USER`/`STOPSIGNAL`/`MAINTAINER` | `USER u` |
//! | `HEALTHCHECK` | `HEALTHCHECK {Test:[CMD-SHELL x] Interval:30s Timeout:0s ...}` (Go `%+v`) |
//! | `ONBUILD`, `FROM` | no entry |

use super::ImageError;
use super::config::Healthcheck;
use super::config::ImageConfig;
use super::ports::parse_port_spec;
use super::transform::normalize_workdir;
use crate::dockerfile::go_quote;
use crate::instructions::{CopySpec, Instruction, Run, format_go_duration};

/// The `comment` BuildKit puts on every history entry it writes.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// BuildKit's suffix for entries made by an LLB op (`RUN`, `COPY`, `ADD`).
const BUILDKIT_SUFFIX: &str = " # buildkit";

/// The `created_by` text for `instruction`, or `None` when BuildKit records none (`FROM`,
/// `ONBUILD`).
///
/// `before` is the config before the instruction (its `SHELL`, `WorkingDir` and `Env` shape the
/// text). `args` are the ARGs in scope with their values, in declaration order; for `RUN` a
/// value set by `ENV` takes precedence, as in BuildKit's `runCommandString`. The instruction's
/// words must already be expanded.
pub fn history_text(
    instruction: &Instruction,
    before: &ImageConfig,
    args: &[(String, String)],
) -> Result<Option<String>, ImageError> {
    let text = match instruction {
        Instruction::From(_) | Instruction::Onbuild(_) => return Ok(None),
        Instruction::Run(run) => run_text(run, before, args),
        Instruction::Copy(copy) => copy_text("COPY", &copy.spec, copy.parents),
        Instruction::Add(add) => copy_text("ADD", &add.spec, false),
        Instruction::Workdir(path) => {
            format!(
                "WORKDIR {}",
                normalize_workdir(&before.config.working_dir, path)
            )
        }
        Instruction::Env(kvs) | Instruction::Label(kvs) => {
            let mut text = instruction.keyword().to_owned();
            for kv in kvs {
                text.push_str(&format!(" {}={}", kv.key, kv.value));
            }
            text
        }
        Instruction::Arg(decls) => {
            let words: Vec<String> = decls
                .iter()
                .map(|d| match args.iter().rev().find(|(k, _)| *k == d.name) {
                    Some((k, v)) => format!("{k}={v}"),
                    None => match &d.default {
                        Some(v) => format!("{}={v}", d.name),
                        None => d.name.clone(),
                    },
                })
                .collect();
            format!("ARG {}", words.join(" "))
        }
        Instruction::Cmd(command) | Instruction::Entrypoint(command) => format!(
            "{} {}",
            instruction.keyword(),
            go_quoted_list(&before.command_args(command))
        ),
        Instruction::Expose(specs) => {
            let mut ports = Vec::new();
            for spec in specs {
                ports.extend(parse_port_spec(spec)?);
            }
            format!("EXPOSE [{}]", ports.join(" "))
        }
        Instruction::Volume(paths) => format!("VOLUME [{}]", paths.join(" ")),
        Instruction::Shell(shell) => format!("SHELL [{}]", shell.join(" ")),
        Instruction::User(user) => format!("USER {user}"),
        Instruction::StopSignal(signal) => format!("STOPSIGNAL {signal}"),
        Instruction::Maintainer(name) => format!("MAINTAINER {name}"),
        Instruction::Healthcheck(h) => healthcheck_text(&Healthcheck::from_instruction(h)),
    };
    Ok(Some(text))
}

/// Whether BuildKit records `instruction` as making a layer (`empty_layer: false`): `RUN`,
/// `COPY`, `ADD`, and `WORKDIR` unless it resolves to `/`.
pub fn creates_layer(instruction: &Instruction, before: &ImageConfig) -> bool {
    match instruction {
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) => true,
        Instruction::Workdir(path) => normalize_workdir(&before.config.working_dir, path) != "/",
        _ => false,
    }
}

/// `RUN` (`dispatchRun` + `runCommandString`): heredocs folded in as BuildKit does.
fn run_text(run: &Run, before: &ImageConfig, args: &[(String, String)]) -> String {
    let argv = match (&run.command, run.heredocs.first()) {
        (crate::instructions::CommandLine::Shell(cmd), Some(first)) => {
            let script = if is_only_heredoc(cmd, &first.name) {
                let body = first.body();
                if before.os != "windows" && body.starts_with("#!") {
                    format!("/dev/pipes/{}", first.name)
                } else {
                    body
                }
            } else {
                let mut s = cmd.clone();
                for doc in &run.heredocs {
                    s.push('\n');
                    s.push_str(&doc.content);
                    s.push_str(&doc.name);
                }
                s
            };
            before.shell_args(&script)
        }
        (command, _) => before.command_args(command),
    };
    let mut env: Vec<(String, String)> = Vec::new();
    for (key, value) in args {
        let value = before.env(key).unwrap_or(value).to_owned();
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => env.push((key.clone(), value)),
        }
    }
    let mut words: Vec<String> = Vec::new();
    if !env.is_empty() {
        words.push(format!("|{}", env.len()));
        words.extend(env.into_iter().map(|(k, v)| format!("{k}={v}")));
    }
    words.extend(argv);
    format!("RUN {}{BUILDKIT_SUFFIX}", words.join(" "))
}

/// Whether a shell-form command is nothing but the heredoc marker (`<<EOF`, `<<-"EOF"`).
fn is_only_heredoc(cmd: &str, name: &str) -> bool {
    let rest = cmd.trim().trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| rest.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
        .unwrap_or(rest);
    unquoted == name
}

/// `COPY`/`ADD` (`dispatchCopy`): flags BuildKit records, sources, heredoc names, destination.
fn copy_text(keyword: &str, spec: &CopySpec, parents: bool) -> String {
    let mut text = keyword.to_owned();
    if parents {
        text.push_str(" --parents");
    }
    if let Some(chown) = &spec.chown {
        text.push_str(&format!(" --chown={chown}"));
    }
    if let Some(chmod) = &spec.chmod {
        let chmod = match chmod {
            crate::instructions::ChmodSpec::Parsed(c) => c.to_string(),
            crate::instructions::ChmodSpec::Unexpanded(s) => s.clone(),
        };
        text.push_str(&format!(" --chmod={chmod}"));
    }
    for src in &spec.sources {
        text.push(' ');
        text.push_str(src);
    }
    for doc in &spec.inline {
        text.push_str(&format!(" <<{}", doc.name));
    }
    format!("{text} {}{BUILDKIT_SUFFIX}", spec.dest)
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `%+v` of docker-image-spec's `HealthcheckConfig`.
fn healthcheck_text(h: &Healthcheck) -> String {
    let d = |nanos: i64| {
        let text = format_go_duration(std::time::Duration::from_nanos(nanos.unsigned_abs()));
        if nanos < 0 { format!("-{text}") } else { text }
    };
    format!(
        "HEALTHCHECK {{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        h.test.join(" "),
        d(h.interval),
        d(h.timeout),
        d(h.start_period),
        d(h.start_interval),
        h.retries
    )
}
