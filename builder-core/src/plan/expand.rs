//! Which words of which instruction are expanded, and how (BuildKit's `Expand` methods).

use crate::error::{Error, Result};
use crate::instructions::{
    Add, Chmod, ChmodSpec, Copy, CopySpec, InlineSource, Instruction, KeyValue, Mount, MountSpec,
    Run,
};
use crate::shell::{Env, Lexer};

use super::PlanError;

/// Expands the words of `instruction` that BuildKit expands, with `env` as it is before the
/// instruction. `ARG` and `FROM` are handled by the planner (they change scopes).
pub(crate) fn expand(
    instruction: &Instruction,
    lexer: &Lexer,
    env: &dyn Env,
) -> Result<Instruction> {
    let word = |w: &str| lexer.process_word(w, env).map_err(Error::new);
    let words = |ws: &[String]| ws.iter().map(|w| word(w)).collect::<Result<Vec<_>>>();
    Ok(match instruction {
        Instruction::Env(kvs) => Instruction::Env(key_values(kvs, &word)?),
        Instruction::Label(kvs) => Instruction::Label(key_values(kvs, &word)?),
        Instruction::Workdir(p) => Instruction::Workdir(word(p)?),
        Instruction::User(u) => Instruction::User(word(u)?),
        Instruction::StopSignal(s) => Instruction::StopSignal(word(s)?),
        Instruction::Volume(vs) => Instruction::Volume(words(vs)?),
        Instruction::Expose(ports) => {
            let mut out = Vec::new();
            for p in ports {
                out.extend(lexer.process_words(p, env).map_err(Error::new)?);
            }
            Instruction::Expose(out)
        }
        Instruction::Copy(c) => Instruction::Copy(Copy {
            spec: copy_spec(&c.spec, lexer, env)?,
            from: check_from(c.from.as_deref())?,
            parents: c.parents,
        }),
        Instruction::Add(a) => Instruction::Add(Add {
            spec: copy_spec(&a.spec, lexer, env)?,
            checksum: a
                .checksum
                .as_deref()
                .map(word)
                .transpose()?
                .filter(|c| !c.is_empty()),
            ..a.clone()
        }),
        Instruction::Run(r) => Instruction::Run(Run {
            mounts: r
                .mounts
                .iter()
                .map(|m| mount(m, lexer, env))
                .collect::<Result<_>>()?,
            ..r.clone()
        }),
        other => other.clone(),
    })
}

fn key_values(kvs: &[KeyValue], word: &dyn Fn(&str) -> Result<String>) -> Result<Vec<KeyValue>> {
    kvs.iter()
        .map(|kv| {
            Ok(KeyValue {
                key: word(&kv.key)?,
                value: word(&kv.value)?,
            })
        })
        .collect()
}

fn check_from(from: Option<&str>) -> Result<Option<String>> {
    match from {
        Some(f) if f.contains('$') => Err(Error::new(PlanError::VariableInFrom)),
        other => Ok(other.map(str::to_string)),
    }
}

fn copy_spec(spec: &CopySpec, lexer: &Lexer, env: &dyn Env) -> Result<CopySpec> {
    let word = |w: &str| lexer.process_word(w, env).map_err(Error::new);
    let words = |ws: &[String]| ws.iter().map(|w| word(w)).collect::<Result<Vec<_>>>();
    // Heredoc bodies keep their quotes: only variables are substituted.
    let body_lexer = lexer.clone().skip_process_quotes(true);
    let inline = spec
        .inline
        .iter()
        .map(|s| {
            let content = if s.expand {
                body_lexer
                    .process_word(&s.content, env)
                    .map_err(Error::new)?
            } else {
                s.content.clone()
            };
            Ok(InlineSource {
                content,
                ..s.clone()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let chmod = match &spec.chmod {
        // An empty value after expansion means no --chmod, as in BuildKit.
        Some(ChmodSpec::Unexpanded(raw)) => match word(raw)? {
            v if v.is_empty() => None,
            v => Some(ChmodSpec::Parsed(Chmod::parse(&v).map_err(Error::new)?)),
        },
        other => other.clone(),
    };
    Ok(CopySpec {
        sources: words(&spec.sources)?,
        inline,
        dest: word(&spec.dest)?,
        chown: spec.chown.as_deref().map(word).transpose()?,
        chmod,
        link: spec.link,
        excludes: words(&spec.excludes)?,
    })
}

fn mount(spec: &MountSpec, lexer: &Lexer, env: &dyn Env) -> Result<MountSpec> {
    match spec {
        MountSpec::Parsed(m) => Ok(MountSpec::Parsed(m.clone())),
        MountSpec::Unexpanded(raw) => {
            let mut expand = |v: &str| lexer.process_word(v, env).map_err(Error::new);
            Mount::parse_with(raw, &mut expand).map(MountSpec::Parsed)
        }
    }
}
