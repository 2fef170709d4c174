//! Why a build could not run a step.

use std::path::PathBuf;

use super::fetch::FetchError;
use super::owner::OwnerError;
use crate::store::IoCause;

/// An error of the executor. Located at the instruction by the build loop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The instruction exists but this version of `hoist build` cannot run it.
    #[error("{instruction} is not supported yet by hoist build")]
    Unsupported {
        /// The keyword (`RUN`, `ADD`).
        instruction: &'static str,
    },
    /// A user or group (`--chown`, `USER` for `WORKDIR`) could not be resolved.
    #[error(transparent)]
    Owner(#[from] OwnerError),
    /// A remote `ADD` source could not be fetched or verified.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// An `ADD` archive could not be extracted.
    #[error("cannot extract {path}: {reason}")]
    BadArchive {
        /// The archive.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Several sources were copied to a destination that is not a directory.
    #[error(
        "when using COPY with more than one source file, the destination must be a directory \
         and end with a / (got {dest:?})"
    )]
    DestinationNotDirectory {
        /// The destination as written.
        dest: String,
    },
    /// A source with wildcards matched nothing.
    #[error("COPY source {pattern:?} matched no file")]
    NoMatch {
        /// The source as written.
        pattern: String,
    },
    /// A source is a device, FIFO or socket.
    #[error("cannot copy {path}: only files, directories and symlinks can be copied")]
    UnsupportedFileType {
        /// The file on the host.
        path: PathBuf,
    },
    /// A tag given with `-t` is not a valid reference name.
    #[error("invalid tag {tag:?}: {reason}")]
    InvalidTag {
        /// The tag as given.
        tag: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The plan holds no stage.
    #[error("the Dockerfile has no stage to build")]
    NothingToBuild,
    /// The OCI runtime binary is not installed.
    #[error(
        "cannot run {program}: it is not installed (install it with `apt-get install {package}`, \
         or choose another runtime with --runtime)"
    )]
    RuntimeMissing {
        /// The program that was run.
        program: PathBuf,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// The OCI runtime itself was killed by a signal (not the step's command).
    #[error(
        "the OCI runtime {} was killed by signal {signal} while running the step \
         (out of memory? killed by someone?)",
        program.display()
    )]
    RuntimeKilled {
        /// The runtime program.
        program: PathBuf,
        /// The signal number.
        signal: i32,
    },
    /// The runtime spec (`config.json`) could not be made.
    #[error("cannot make the container's config.json: {reason}")]
    RuntimeSpec {
        /// What went wrong.
        reason: String,
    },
    /// A `RUN` command exited with a non-zero code.
    #[error(
        "process {command:?} did not complete successfully: exit code: {code}\n{}\n(full log: {})",
        tail.join("\n"),
        log.display()
    )]
    RunFailed {
        /// The command as run (argv joined with spaces).
        command: String,
        /// Its exit code (128 + signal when killed).
        code: i32,
        /// The last lines of its output.
        tail: Vec<String>,
        /// The build's log file.
        log: PathBuf,
    },
    /// The build was cancelled (SIGINT/SIGTERM): the running container was killed.
    #[error("the build was cancelled")]
    Cancelled,
    /// `RUN --security=insecure` without the entitlement.
    #[error(
        "RUN --security=insecure is not allowed: pass --allow security.insecure to hoist build"
    )]
    InsecureNotAllowed,
    /// `RUN --mount from=` names something other than an earlier stage.
    #[error("RUN --mount from={from}: no earlier stage, image or named context has that name")]
    UnsupportedMountFrom {
        /// The `from` value.
        from: String,
    },
    /// A mount option this version cannot honour.
    #[error("RUN --mount: {option} is not supported yet by hoist build")]
    UnsupportedMountOption {
        /// The option.
        option: &'static str,
    },
    /// A `required` secret was not given with `--secret`.
    #[error("secret {id}: not found (pass it with --secret id={id},src=PATH or env=VAR)")]
    SecretMissing {
        /// The secret id.
        id: String,
    },
    /// A secret's file could not be read.
    #[error("cannot read secret {id} from {path}: {cause}")]
    SecretRead {
        /// The secret id.
        id: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        cause: IoCause,
    },
    /// A secret exposed with `env=` is not UTF-8.
    #[error("secret {id} cannot be an environment variable: it is not UTF-8")]
    SecretNotUtf8 {
        /// The secret id.
        id: String,
    },
    /// A `required` ssh agent was not given with `--ssh`.
    #[error("no SSH key {id:?} forwarded from the client: pass it with --ssh {id}[=SOCKET]")]
    SshMissing {
        /// The ssh id.
        id: String,
    },
    /// A cache mount's `source` leaves the cache directory (through a symlink or `..`).
    #[error("cache mount source {path:?} escapes the cache directory")]
    CacheSourceEscapes {
        /// The source as written.
        path: String,
    },
    /// A file operation on the host failed.
    #[error("cannot {operation} {path}: {cause}")]
    Io {
        /// What was being done (`create directory`, `copy`).
        operation: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        cause: IoCause,
    },
}

impl ExecError {
    /// An [`ExecError::Io`] maker for `map_err`.
    pub(crate) fn io<E: Into<IoCause>>(
        operation: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(E) -> ExecError + use<E> {
        let path = path.to_owned();
        move |e| ExecError::Io {
            operation,
            path,
            cause: e.into(),
        }
    }
}
