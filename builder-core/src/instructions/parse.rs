//! Nodes -> instructions, one function per keyword (BuildKit's `instructions/parse.go`).

use crate::dockerfile::{Ast, Node, Warning};
use crate::error::{Error, Result};
use crate::source::Span;
use crate::suggest;

use super::flags::{FlagKind, Flags};
use super::health::parse_interval;
use super::mount::{Mount, MountSpec, check_unexpanded};
use super::{
    Add, ArgDecl, Chmod, ChmodSpec, CommandLine, Copy, CopySpec, Dockerfile, From, HealthConfig,
    Healthcheck, InlineSource, Instruction, InstructionError, KeyValue, NetworkMode, Onbuild, Run,
    SecurityMode, Stage, Step,
};

type Parsed<T> = std::result::Result<T, InstructionError>;

/// Every instruction keyword, upper case.
pub const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Groups the AST's nodes into global ARGs and stages of typed instructions.
///
/// Each error is located at the instruction it concerns.
pub fn parse(ast: &Ast) -> Result<Dockerfile> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &ast.nodes {
        let located = |e: InstructionError| Error::new(e).at(&ast.source, node.span);
        let instruction = parse_instruction(node).map_err(located)?;
        let step = Step {
            instruction,
            span: node.span,
            original: node.original.clone(),
        };
        if let Instruction::From(from) = step.instruction {
            stages.push(Stage {
                index: stages.len(),
                name: from.name.clone(),
                from,
                span: node.span,
                steps: Vec::new(),
            });
            continue;
        }
        match stages.last_mut() {
            Some(stage) => stage.steps.push(step),
            None if matches!(step.instruction, Instruction::Arg(_)) => meta_args.push(step),
            None => {
                return Err(located(InstructionError::OutsideStage {
                    keyword: step.instruction.keyword().to_string(),
                }));
            }
        }
    }
    let mut warnings = ast.warnings.clone();
    warnings.extend(directive_warnings(ast));
    Ok(Dockerfile {
        source: ast.source.clone(),
        escape: ast.directives.escape,
        meta_args,
        stages,
        warnings,
    })
}

/// Directives Hoist accepts but does not act on are reported, never silently dropped.
fn directive_warnings(ast: &Ast) -> Vec<Warning> {
    let line_of = |name: &str| {
        (1..=ast.source.line_count())
            .map_while(|n| ast.source.line(n).map(|l| (n, l.trim_start())))
            .take_while(|(_, l)| l.starts_with('#') || l.is_empty())
            .find(|(_, l)| l.to_ascii_lowercase().contains(name))
            .map_or(Span::default(), |(n, _)| Span::point(n, 1))
    };
    let mut warnings = Vec::new();
    if let Some(syntax) = &ast.directives.syntax {
        let image = syntax.split(['@', ':']).next().unwrap_or_default();
        let known = ["docker/dockerfile", "docker.io/docker/dockerfile"];
        if !known
            .iter()
            .any(|k| image == *k || image == format!("{k}-upstream"))
        {
            warnings.push(Warning {
                short: format!(
                    "syntax directive {syntax:?} is not loaded: Hoist always uses its built-in \
                     Dockerfile frontend"
                ),
                detail: "Hoist does not run frontend images; it parses Dockerfiles itself.".into(),
                url: None,
                span: line_of("syntax"),
            });
        }
    }
    if let Some(check) = &ast.directives.check {
        warnings.push(Warning {
            short: format!("check directive {check:?} has no effect: Hoist runs no build checks"),
            detail: "BuildKit's lint rules are not implemented by Hoist.".into(),
            url: None,
            span: line_of("check"),
        });
    }
    warnings
}

/// Types one node.
pub fn parse_instruction(node: &Node) -> Parsed<Instruction> {
    let keyword = node.keyword.to_ascii_uppercase();
    let Some(&keyword) = KEYWORDS.iter().find(|k| **k == keyword) else {
        return Err(InstructionError::UnknownInstruction {
            suggestion: suggest::closest(&keyword, KEYWORDS.iter().copied()),
            keyword: node.keyword.clone(),
        });
    };
    let no_flags = || Flags::parse(keyword, &[], &node.flags);
    Ok(match keyword {
        "FROM" => Instruction::From(parse_from(node)?),
        "RUN" => Instruction::Run(parse_run(node)?),
        "CMD" => {
            no_flags()?;
            Instruction::Cmd(command_line(node, "CMD")?)
        }
        "ENTRYPOINT" => {
            no_flags()?;
            Instruction::Entrypoint(command_line(node, "ENTRYPOINT")?)
        }
        "COPY" => Instruction::Copy(parse_copy(node)?),
        "ADD" => Instruction::Add(parse_add(node)?),
        "ENV" => {
            no_flags()?;
            Instruction::Env(key_values(node, "ENV")?)
        }
        "LABEL" => {
            no_flags()?;
            Instruction::Label(key_values(node, "LABEL")?)
        }
        "ARG" => {
            no_flags()?;
            Instruction::Arg(parse_arg(node)?)
        }
        "WORKDIR" => Instruction::Workdir(single(node, keyword)?),
        "USER" => Instruction::User(single(node, keyword)?),
        "STOPSIGNAL" => Instruction::StopSignal(single(node, keyword)?),
        "MAINTAINER" => Instruction::Maintainer(single(node, keyword)?),
        "VOLUME" => Instruction::Volume(parse_volume(node)?),
        "EXPOSE" => {
            no_flags()?;
            let mut ports = at_least_one(node, keyword)?;
            ports.sort();
            Instruction::Expose(ports)
        }
        "SHELL" => Instruction::Shell(parse_shell(node)?),
        "HEALTHCHECK" => Instruction::Healthcheck(parse_healthcheck(node)?),
        _ => Instruction::Onbuild(parse_onbuild(node)?),
    })
}

fn single(node: &Node, keyword: &'static str) -> Parsed<String> {
    Flags::parse(keyword, &[], &node.flags)?;
    match node.args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(InstructionError::ArgumentCount {
            keyword: keyword.into(),
            expected: "exactly one argument",
        }),
    }
}

fn at_least_one(node: &Node, keyword: &'static str) -> Parsed<Vec<String>> {
    if node.args.is_empty() {
        return Err(InstructionError::ArgumentCount {
            keyword: keyword.into(),
            expected: "at least one argument",
        });
    }
    Ok(node.args.clone())
}

fn parse_from(node: &Node) -> Parsed<From> {
    let flags = Flags::parse("FROM", &[("platform", FlagKind::String)], &node.flags)?;
    let name = match node.args.as_slice() {
        [_] => None,
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !is_valid_stage_name(&lower) {
                return Err(InstructionError::rule(format!(
                    "invalid name for build stage: \"{name}\", name can't start with a number \
                     or contain symbols"
                )));
            }
            Some(lower)
        }
        _ => {
            return Err(InstructionError::ArgumentCount {
                keyword: "FROM".into(),
                expected: "either one or three arguments",
            });
        }
    };
    Ok(From {
        image: node.args[0].clone(),
        name,
        platform: flags.string("platform"),
    })
}

/// `^[a-z][a-z0-9-_.]*$`
fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn command_line(node: &Node, keyword: &'static str) -> Parsed<CommandLine> {
    if node.json {
        return Ok(CommandLine::Exec(node.args.clone()));
    }
    match node.args.as_slice() {
        [] => Err(InstructionError::ArgumentCount {
            keyword: keyword.into(),
            expected: "at least one argument",
        }),
        args => Ok(CommandLine::Shell(args.join(" "))),
    }
}

fn parse_run(node: &Node) -> Parsed<Run> {
    let flags = Flags::parse(
        "RUN",
        &[
            ("mount", FlagKind::Strings),
            ("network", FlagKind::String),
            ("security", FlagKind::String),
        ],
        &node.flags,
    )?;
    let mounts = flags
        .strings("mount")
        .into_iter()
        .map(|spec| {
            if spec.contains('$') {
                check_unexpanded(&spec)?;
                Ok(MountSpec::Unexpanded(spec))
            } else {
                Mount::parse(&spec).map(MountSpec::Parsed)
            }
        })
        .collect::<Parsed<Vec<_>>>()?;
    let network = flags
        .string("network")
        .map(|v| match v.as_str() {
            "default" => Ok(NetworkMode::Default),
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            _ => Err(InstructionError::invalid(
                "--network",
                v,
                "expected one of default, none, host",
            )),
        })
        .transpose()?;
    let security = flags
        .string("security")
        .map(|v| match v.as_str() {
            "sandbox" => Ok(SecurityMode::Sandbox),
            "insecure" => Ok(SecurityMode::Insecure),
            _ => Err(InstructionError::invalid(
                "--security",
                v,
                "expected sandbox or insecure",
            )),
        })
        .transpose()?;
    Ok(Run {
        command: command_line(node, "RUN")?,
        heredocs: node.heredocs.clone(),
        mounts,
        network,
        security,
    })
}

const COPY_FLAGS: &[(&str, FlagKind)] = &[
    ("from", FlagKind::String),
    ("chown", FlagKind::String),
    ("chmod", FlagKind::String),
    ("link", FlagKind::Bool),
    ("parents", FlagKind::Bool),
    ("exclude", FlagKind::Strings),
];

const ADD_FLAGS: &[(&str, FlagKind)] = &[
    ("chown", FlagKind::String),
    ("chmod", FlagKind::String),
    ("link", FlagKind::Bool),
    ("keep-git-dir", FlagKind::Bool),
    ("checksum", FlagKind::String),
    ("unpack", FlagKind::Bool),
    ("exclude", FlagKind::Strings),
];

fn parse_copy(node: &Node) -> Parsed<Copy> {
    let flags = Flags::parse("COPY", COPY_FLAGS, &node.flags)?;
    Ok(Copy {
        spec: copy_spec(node, "COPY", &flags)?,
        from: flags.string("from"),
        parents: flags.bool("parents").unwrap_or(false),
    })
}

fn parse_add(node: &Node) -> Parsed<Add> {
    let flags = Flags::parse("ADD", ADD_FLAGS, &node.flags)?;
    Ok(Add {
        spec: copy_spec(node, "ADD", &flags)?,
        keep_git_dir: flags.bool("keep-git-dir").unwrap_or(false),
        checksum: flags.string("checksum"),
        unpack: flags.bool("unpack"),
    })
}

fn copy_spec(node: &Node, keyword: &'static str, flags: &Flags) -> Parsed<CopySpec> {
    let Some((dest, sources)) = node.args.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(InstructionError::ArgumentCount {
            keyword: keyword.into(),
            expected: "at least two arguments, but only one was provided. Destination could \
                       not be determined",
        });
    };
    if heredoc_name(dest).is_some() {
        return Err(InstructionError::BadHeredoc {
            keyword: keyword.into(),
            role: "a destination",
        });
    }
    let mut paths = Vec::new();
    let mut inline = Vec::new();
    for source in sources {
        let heredoc =
            heredoc_name(source).and_then(|name| node.heredocs.iter().find(|h| h.name == name));
        match heredoc {
            Some(h) => inline.push(InlineSource {
                name: h.name.clone(),
                content: h.body(),
                expand: h.expand,
            }),
            None => paths.push(source.clone()),
        }
    }
    let chmod = flags
        .string("chmod")
        .map(|v| {
            if v.contains('$') {
                Ok(ChmodSpec::Unexpanded(v))
            } else {
                Chmod::parse(&v).map(ChmodSpec::Parsed)
            }
        })
        .transpose()?;
    Ok(CopySpec {
        sources: paths,
        inline,
        dest: dest.clone(),
        chown: flags.string("chown"),
        chmod,
        link: flags.bool("link").unwrap_or(false),
        excludes: flags.strings("exclude"),
    })
}

/// The delimiter of a heredoc word (`<<EOF`, `<<-EOF`, `<<"EOF"`), if `word` is one.
fn heredoc_name(word: &str) -> Option<&str> {
    let rest = word.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let name = rest.trim_matches(|c| c == '"' || c == '\'');
    (!name.is_empty()).then_some(name)
}

fn key_values(node: &Node, keyword: &'static str) -> Parsed<Vec<KeyValue>> {
    if node.args.is_empty() {
        return Err(InstructionError::ArgumentCount {
            keyword: keyword.into(),
            expected: "at least one argument",
        });
    }
    if !node.args.len().is_multiple_of(3) {
        return Err(InstructionError::rule(format!(
            "Bad input to {keyword}, too many arguments"
        )));
    }
    node.args
        .chunks(3)
        .map(|kv| {
            if kv[0].is_empty() {
                return Err(InstructionError::rule(format!(
                    "{keyword} names can not be blank"
                )));
            }
            Ok(KeyValue {
                key: kv[0].clone(),
                value: kv[1].clone(),
            })
        })
        .collect()
}

fn parse_arg(node: &Node) -> Parsed<Vec<ArgDecl>> {
    at_least_one(node, "ARG")?
        .into_iter()
        .map(|arg| match arg.split_once('=') {
            Some(("", _)) => Err(InstructionError::rule("ARG names can not be blank")),
            Some((name, value)) => Ok(ArgDecl {
                name: name.to_string(),
                default: Some(value.to_string()),
            }),
            None => Ok(ArgDecl {
                name: arg,
                default: None,
            }),
        })
        .collect()
}

fn parse_volume(node: &Node) -> Parsed<Vec<String>> {
    Flags::parse("VOLUME", &[], &node.flags)?;
    at_least_one(node, "VOLUME")?
        .into_iter()
        .map(|v| {
            let v = v.trim().to_string();
            if v.is_empty() {
                Err(InstructionError::rule(
                    "VOLUME specified can not be an empty string",
                ))
            } else {
                Ok(v)
            }
        })
        .collect()
}

fn parse_shell(node: &Node) -> Parsed<Vec<String>> {
    Flags::parse("SHELL", &[], &node.flags)?;
    if !node.json {
        return Err(InstructionError::NotJson {
            keyword: "SHELL".into(),
        });
    }
    at_least_one(node, "SHELL")
}

fn parse_healthcheck(node: &Node) -> Parsed<Healthcheck> {
    let Some((kind, rest)) = node.args.split_first() else {
        return Err(InstructionError::ArgumentCount {
            keyword: "HEALTHCHECK".into(),
            expected: "at least one argument",
        });
    };
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        if !rest.is_empty() {
            return Err(InstructionError::rule(
                "HEALTHCHECK NONE takes no arguments",
            ));
        }
        Flags::parse("HEALTHCHECK NONE", &[], &node.flags)?;
        return Ok(Healthcheck::None);
    }
    let flags = Flags::parse(
        "HEALTHCHECK",
        &[
            ("interval", FlagKind::String),
            ("timeout", FlagKind::String),
            ("start-period", FlagKind::String),
            ("start-interval", FlagKind::String),
            ("retries", FlagKind::String),
        ],
        &node.flags,
    )?;
    if kind != "CMD" {
        return Err(InstructionError::rule(format!(
            "Unknown type \"{kind}\" in HEALTHCHECK (try CMD)"
        )));
    }
    if rest.is_empty() {
        return Err(InstructionError::rule(
            "Missing command after HEALTHCHECK CMD",
        ));
    }
    let command = if node.json {
        CommandLine::Exec(rest.to_vec())
    } else {
        CommandLine::Shell(rest.join(" "))
    };
    let retries = flags
        .string("retries")
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u32>().map_err(|_| {
                InstructionError::invalid("--retries", v, "expected a non-negative integer")
            })
        })
        .transpose()?;
    let interval = |name: &str| parse_interval(name, flags.string(name).as_deref());
    Ok(Healthcheck::Check(HealthConfig {
        command,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    }))
}

fn parse_onbuild(node: &Node) -> Parsed<Onbuild> {
    Flags::parse("ONBUILD", &[], &node.flags)?;
    let Some(child) = node.onbuild.as_deref() else {
        return Err(InstructionError::ArgumentCount {
            keyword: "ONBUILD".into(),
            expected: "at least one argument",
        });
    };
    match child.keyword.to_ascii_uppercase().as_str() {
        "ONBUILD" => {
            return Err(InstructionError::rule(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ));
        }
        k @ ("MAINTAINER" | "FROM") => {
            return Err(InstructionError::rule(format!(
                "{k} isn't allowed as an ONBUILD trigger"
            )));
        }
        _ => {}
    }
    // The parser attaches a trigger's heredocs to the ONBUILD node itself.
    let mut child = child.clone();
    if child.heredocs.is_empty() {
        child.heredocs = node.heredocs.clone();
    }
    let trigger = parse_instruction(&child)?;
    let original = node.original.trim_start();
    let mut expression = original
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("onbuild"))
        .map_or(original, |_| original[7..].trim_start())
        .to_string();
    for heredoc in &node.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(Onbuild {
        expression,
        trigger: Box::new(trigger),
    })
}
