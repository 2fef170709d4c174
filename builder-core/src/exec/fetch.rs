//! `ADD`'s remote sources: URLs downloaded over HTTP(S), git repositories cloned with `git`.
//!
//! A download streams into a file while its sha256 is computed; `--checksum` is checked
//! against it. The file is named after the URL's last path segment (`__unnamed__` without
//! one), has mode 0600 and the `Last-Modified` time as mtime (the epoch without one), as
//! BuildKit's HTTP source gives. A git URL (`https://host/repo.git#ref:subdir`, `git://...`,
//! `git@host:repo.git`) is fetched at depth 1 with the `git` binary; `.git` is dropped unless
//! `--keep-git-dir`. Both are keyed by content (the download's digest, the commit), as BuildKit
//! keys them, so a changed remote rebuilds and an unchanged one is a cache hit.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};

/// Why a remote `ADD` source could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP request failed (connection, TLS, read).
    #[error("ADD {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("ADD {url}: the server answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// `--checksum` is not `sha256:<64 hex>`.
    #[error("invalid --checksum {value:?}: unsupported digest algorithm or malformed digest")]
    BadChecksum {
        /// The value.
        value: String,
    },
    /// `--checksum` was given for a local source.
    #[error("--checksum can only be used with HTTP(S) and git sources (got {source_path:?})")]
    ChecksumOnLocalSource {
        /// The source.
        source_path: String,
    },
    /// The content's digest is not the one `--checksum` asked for.
    #[error("ADD {url}: digest mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// The `--checksum` value.
        expected: String,
        /// The digest (or commit) found.
        actual: String,
    },
    /// A git command failed.
    #[error("ADD {url}: git {command} failed: {stderr}")]
    Git {
        /// The URL.
        url: String,
        /// The git subcommand.
        command: &'static str,
        /// Its error output.
        stderr: String,
    },
    /// A git URL this version does not take: query parameters, or a ref starting with `-`.
    #[error(
        "ADD {url}: git URL query parameters and refs starting with '-' are not supported by \
         hoist build"
    )]
    UnsupportedGitUrl {
        /// The URL.
        url: String,
    },
    /// The subdirectory named in a git URL is not a directory of the checkout.
    #[error("ADD {url}: {subdir:?} is not a directory in the repository")]
    GitSubdir {
        /// The URL.
        url: String,
        /// The subdirectory.
        subdir: String,
    },
}

/// Whether `source` is an HTTP(S) URL (and not a git one).
pub(super) fn is_http_url(source: &str) -> bool {
    (source.starts_with("http://") || source.starts_with("https://")) && !is_git_url(source)
}

/// Whether `source` names a git repository, as BuildKit's `gitutil.ParseGitRef` tells them.
pub(super) fn is_git_url(source: &str) -> bool {
    if source.starts_with("git://") || source.starts_with("git@") || source.starts_with("ssh://") {
        return true;
    }
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return false;
    }
    let base = source.split(['#', '?']).next().unwrap_or(source);
    base.trim_end_matches('/').ends_with(".git")
}

/// `--checksum` as a digest.
pub(super) fn parse_checksum(value: &str) -> Result<Digest, FetchError> {
    let bad = || FetchError::BadChecksum {
        value: value.to_owned(),
    };
    let hex = value.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Digest::parse(&value.to_ascii_lowercase()).map_err(|_| bad())
}

/// The name a downloaded file gets: the URL path's last segment, or `__unnamed__`.
pub(super) fn url_file_name(url: &str) -> String {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." && name != ".." && !path.ends_with('/') => {
            name.to_owned()
        }
        _ => "__unnamed__".to_owned(),
    }
}

/// Downloads `url` into `dir/<name>` (streamed); returns the name and the content digest.
pub(super) fn download(
    url: &str,
    dir: &Path,
    expected: Option<&Digest>,
) -> Result<(String, Digest), FetchError> {
    let http = |reason: String| FetchError::Http {
        url: url.to_owned(),
        reason,
    };
    let client = http_client().map_err(http)?;
    let mut response = client.get(url).send().map_err(|e| http(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let mtime = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let name = url_file_name(url);
    let path = dir.join(&name);
    let mut file =
        File::create(&path).map_err(|e| http(format!("write {}: {e}", path.display())))?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = response.read(&mut buf).map_err(|e| http(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| http(format!("write {}: {e}", path.display())))?;
    }
    drop(file);
    let digest = hasher.finish();
    if let Some(expected) = expected
        && expected != &digest
    {
        return Err(FetchError::ChecksumMismatch {
            url: url.to_owned(),
            expected: expected.to_string(),
            actual: digest.to_string(),
        });
    }
    set_file_meta(&path, 0o600, mtime).map_err(http)?;
    Ok((name, digest))
}

fn set_file_meta(path: &Path, mode: u32, mtime: i64) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| e.to_string())?;
    let time = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: time,
        last_modification: time,
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::empty())
        .map_err(|e| e.to_string())
}

/// An HTTP client with rustls (ring) and the system's roots.
fn http_client() -> Result<reqwest::blocking::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A certificate the store cannot parse is skipped, as every TLS client does.
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("hoist/", env!("CARGO_PKG_VERSION")))
        .timeout(None)
        .build()
        .map_err(|e| error_chain(&e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A git checkout: where its files are and the commit.
#[derive(Debug)]
pub(super) struct Checkout {
    /// The directory whose contents `ADD` copies (the checkout or its subdirectory).
    pub dir: PathBuf,
    /// The commit checked out.
    pub commit: String,
}

/// A git URL split into the remote, the ref and the subdirectory (`url#ref:subdir`).
fn split_git_url(url: &str) -> Result<(&str, Option<&str>, Option<&str>), FetchError> {
    let (remote, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    if remote.contains('?') || fragment.is_some_and(|f| f.starts_with('-')) {
        return Err(FetchError::UnsupportedGitUrl {
            url: url.to_owned(),
        });
    }
    let (reference, subdir) = match fragment {
        None => (None, None),
        Some(f) => match f.split_once(':') {
            Some((r, s)) => (Some(r), Some(s)),
            None => (Some(f), None),
        },
    };
    Ok((
        remote,
        reference.filter(|s| !s.is_empty()),
        subdir.filter(|s| !s.is_empty()),
    ))
}

/// The `git` binary run in `dir`, never prompting.
fn git(url: &str, dir: &Path, command: &'static str, args: &[&str]) -> Result<String, FetchError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "core.autocrlf=false",
            "-c",
            "advice.detachedHead=false",
        ])
        .arg(command)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| FetchError::Git {
            url: url.to_owned(),
            command,
            stderr: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(FetchError::Git {
            url: url.to_owned(),
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Clones `url` at its ref into `dir` (an empty directory); `checksum` is the commit expected.
pub(super) fn clone_git(
    url: &str,
    dir: &Path,
    checksum: Option<&str>,
    keep_git_dir: bool,
) -> Result<Checkout, FetchError> {
    let (remote, reference, subdir) = split_git_url(url)?;
    let remote = remote.strip_prefix("git@").map_or_else(
        || remote.to_owned(),
        |rest| format!("ssh://git@{}", rest.replacen(':', "/", 1)),
    );
    git(url, dir, "init", &["-q"])?;
    let reference = reference.unwrap_or("HEAD");
    git(
        url,
        dir,
        "fetch",
        &["-q", "--depth=1", "--no-tags", &remote, reference],
    )?;
    git(url, dir, "checkout", &["-q", "FETCH_HEAD"])?;
    let commit = git(url, dir, "rev-parse", &["HEAD"])?;
    if let Some(expected) = checksum
        && (expected.len() < 7 || !commit.starts_with(&expected.to_ascii_lowercase()))
    {
        return Err(FetchError::ChecksumMismatch {
            url: url.to_owned(),
            expected: expected.to_owned(),
            actual: commit,
        });
    }
    if dir.join(".gitmodules").exists() {
        git(
            url,
            dir,
            "submodule",
            &["update", "-q", "--init", "--recursive", "--depth=1"],
        )?;
    }
    normalize_modes(dir).map_err(|e| FetchError::Git {
        url: url.to_owned(),
        command: "checkout",
        stderr: e.to_string(),
    })?;
    if !keep_git_dir {
        let git_dir = dir.join(".git");
        std::fs::remove_dir_all(&git_dir).map_err(|e| FetchError::Git {
            url: url.to_owned(),
            command: "checkout",
            stderr: format!("cannot remove {}: {e}", git_dir.display()),
        })?;
    }
    let mut checkout = dir.to_owned();
    if let Some(subdir) = subdir {
        checkout.extend(super::diff::image_components(subdir));
        if !std::fs::symlink_metadata(&checkout).is_ok_and(|m| m.is_dir()) {
            return Err(FetchError::GitSubdir {
                url: url.to_owned(),
                subdir: subdir.to_owned(),
            });
        }
    }
    Ok(Checkout {
        dir: checkout,
        commit,
    })
}

/// Git records only the executable bit: files get 0644 or 0755, directories 0755, whatever
/// the umask (as BuildKit's git source gives). `.git` is left as git wrote it.
fn normalize_modes(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == ".git" {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        let mode = if meta.is_dir() {
            normalize_modes(&path)?;
            0o755
        } else if meta.is_file() {
            if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            }
        } else {
            continue;
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_told_apart() {
        assert!(is_http_url("http://127.0.0.1:8/x.tar"));
        assert!(!is_http_url("https://h/repo.git#main"));
        assert!(is_git_url("https://h/repo.git#main:sub"));
        assert!(is_git_url("git://127.0.0.1/repo"));
        assert!(is_git_url("git@github.com:o/r.git"));
        assert!(!is_git_url("src/file.git"));
        assert!(!is_http_url("file.txt"));
    }

    #[test]
    fn file_names_come_from_the_url_path() {
        assert_eq!(url_file_name("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_file_name("http://h/"), "__unnamed__");
        assert_eq!(url_file_name("http://h"), "__unnamed__");
        assert_eq!(url_file_name("http://h/dir/"), "__unnamed__");
    }

    #[test]
    fn git_urls_split_into_ref_and_subdir() {
        assert_eq!(
            split_git_url("https://h/r.git#v1:docs").unwrap(),
            ("https://h/r.git", Some("v1"), Some("docs"))
        );
        assert_eq!(
            split_git_url("git://h/r").unwrap(),
            ("git://h/r", None, None)
        );
        assert_eq!(
            split_git_url("git://h/r#:sub").unwrap(),
            ("git://h/r", None, Some("sub"))
        );
        assert!(split_git_url("https://h/r.git?ref=x").is_err());
        assert!(split_git_url("https://h/r.git#--upload-pack=x").is_err());
    }

    #[test]
    fn checksums_must_be_sha256() {
        let hex = "a".repeat(64);
        assert!(parse_checksum(&format!("sha256:{hex}")).is_ok());
        assert!(parse_checksum(&format!("sha512:{hex}")).is_err());
        assert!(parse_checksum("sha256:abc").is_err());
    }
}
