//! Flags about images -> library values: `--build-context`, `--output`, registry settings.

use std::path::PathBuf;

use anyhow::{Result, bail};
use builder_core::exec::NamedContext;
use registry_client::Client;

use crate::args::RegistryArgs;

/// A registry client with the docker config.json keychain and the `--insecure-registry` hosts.
pub fn registry_client(args: &RegistryArgs) -> Result<Client> {
    let mut builder = Client::builder();
    for host in &args.insecure_registries {
        builder = builder.insecure_registry(host);
    }
    Ok(builder.build()?)
}

/// One `--build-context NAME=VALUE`, as BuildKit reads it.
pub fn named_context(raw: &str) -> Result<(String, NamedContext)> {
    let Some((name, value)) = raw.split_once('=') else {
        bail!("invalid --build-context {raw:?}: expected NAME=VALUE");
    };
    if name.is_empty() || value.is_empty() {
        bail!("invalid --build-context {raw:?}: expected NAME=VALUE");
    }
    let context = if let Some(rest) = value.strip_prefix("oci-layout://") {
        // `dir:tag` or `dir@sha256:...` (the digest form is not supported: say so).
        if rest.contains('@') {
            bail!("--build-context {name}: oci-layout://DIR@DIGEST is not supported (use DIR:TAG)");
        }
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((d, t)) if !t.contains('/') => (d, Some(t.to_owned())),
            _ => (rest, None),
        };
        NamedContext::OciLayout {
            dir: PathBuf::from(dir),
            tag,
        }
    } else if let Some(reference) = value.strip_prefix("docker-image://") {
        NamedContext::Image(reference.to_owned())
    } else if let Some((scheme, _)) = value.split_once("://") {
        bail!(
            "--build-context {name}: {scheme}:// contexts are not supported \
             (use a directory, oci-layout:// or docker-image://)"
        );
    } else {
        NamedContext::Directory(PathBuf::from(value))
    };
    Ok((name.to_lowercase(), context))
}

/// Where `--output` sends the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=oci` or `type=docker`: an archive to a file or standard output.
    Archive {
        /// Docker's layout (`manifest.json`) as well as OCI's.
        docker: bool,
        /// The destination.
        dest: Dest,
        /// `name=`: the names written into the archive (default: the `-t` tags).
        names: Vec<String>,
    },
    /// `type=tar`: the root filesystem as a tar.
    Tar(Dest),
    /// `type=local`: the root filesystem, extracted into a directory.
    Local(PathBuf),
}

/// A file, or standard output (`dest=-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file, written whole then renamed into place.
    File(PathBuf),
}

/// Parses one `--output` value, as buildx does: `type=...,dest=...`, or a bare path (a
/// `local` directory), or `-` (a `tar` on standard output).
pub fn output(raw: &str) -> Result<Output> {
    if raw == "-" {
        return Ok(Output::Tar(Dest::Stdout));
    }
    if !raw.contains('=') {
        return Ok(Output::Local(PathBuf::from(raw)));
    }
    let (mut kind, mut dest, mut names) = (None, None, Vec::new());
    for field in raw.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            bail!("invalid --output {raw:?}: {field:?} is not KEY=VALUE");
        };
        match key.trim().to_lowercase().as_str() {
            "type" => kind = Some(value.to_owned()),
            "dest" => dest = Some(value.to_owned()),
            "name" => names.push(value.to_owned()),
            other => bail!(
                "invalid --output {raw:?}: unknown key {other:?} (supported: type, dest, name)"
            ),
        }
    }
    let Some(kind) = kind else {
        bail!("invalid --output {raw:?}: type= is missing");
    };
    let Some(dest) = dest.filter(|d| !d.is_empty()) else {
        bail!("invalid --output {raw:?}: dest= is required for type={kind}");
    };
    let file = || {
        if dest == "-" {
            Dest::Stdout
        } else {
            Dest::File(PathBuf::from(&dest))
        }
    };
    if !names.is_empty() && !matches!(kind.as_str(), "oci" | "docker") {
        bail!("invalid --output {raw:?}: name= applies to type=oci and type=docker only");
    }
    Ok(match kind.as_str() {
        "oci" => Output::Archive {
            docker: false,
            dest: file(),
            names,
        },
        "docker" => Output::Archive {
            docker: true,
            dest: file(),
            names,
        },
        "tar" => Output::Tar(file()),
        "local" if dest == "-" => bail!("--output type=local needs a directory, not -"),
        "local" => Output::Local(PathBuf::from(dest)),
        other => bail!(
            "unknown --output type {other:?} (supported: local, tar, oci, docker; \
             use --push for a registry)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        assert_eq!(output("out").unwrap(), Output::Local("out".into()));
        assert_eq!(output("-").unwrap(), Output::Tar(Dest::Stdout));
        assert_eq!(
            output("type=docker,dest=-").unwrap(),
            Output::Archive {
                docker: true,
                dest: Dest::Stdout,
                names: vec![]
            }
        );
        assert_eq!(
            output("type=oci,dest=a.tar,name=x:1").unwrap(),
            Output::Archive {
                docker: false,
                dest: Dest::File("a.tar".into()),
                names: vec!["x:1".into()]
            }
        );
        assert!(output("type=image,dest=x").is_err());
        assert!(output("type=oci").is_err());
        assert!(output("type=oci,dest=x,compression=zstd").is_err());
        assert!(output("type=local,dest=-").is_err());
    }

    #[test]
    fn build_contexts() {
        assert_eq!(
            named_context("base=oci-layout:///tmp/l:v1").unwrap(),
            (
                "base".into(),
                NamedContext::OciLayout {
                    dir: "/tmp/l".into(),
                    tag: Some("v1".into())
                }
            )
        );
        assert_eq!(
            named_context("src=./dir").unwrap(),
            ("src".into(), NamedContext::Directory("./dir".into()))
        );
        assert_eq!(
            named_context("a=docker-image://alpine:3").unwrap(),
            ("a".into(), NamedContext::Image("alpine:3".into()))
        );
        assert!(named_context("x=https://example.com/repo.git").is_err());
        assert!(named_context("novalue").is_err());
    }
}
