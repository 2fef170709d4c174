//! The OCI bundle of one `RUN` step: `config.json` generated with `oci_spec::runtime`.
//!
//! The container matches what Docker and BuildKit give a build step: fresh pid, ipc, uts and
//! mount namespaces; the host network unless `--network=none` (then a fresh network namespace
//! with only loopback: Hoist never creates bridges); `/proc`, a tmpfs `/dev` (the runtime adds
//! the standard devices), `/dev/pts`, `/dev/shm`, `/dev/mqueue`, a read-only `/sys`; Docker's
//! masked and read-only paths; the host's `/etc/resolv.conf` and `/etc/hosts` bind-mounted
//! read-only; Docker's default capabilities. No rlimits (the process inherits the builder's,
//! which are never above the hard limits) and no cgroup resources (which break crun on hybrid
//! cgroup hosts).
//!
//! Mounts are a list of [`BundleMount`]s: the standard ones first, then whatever the step adds
//! (heredoc scripts today, `RUN --mount` later), so a new mount kind is a new entry.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::ExecError;
use crate::instructions::NetworkMode;

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// What `--security=insecure` adds to the default set.
const INSECURE_CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "BLOCK_SUSPEND",
    "DAC_READ_SEARCH",
    "IPC_LOCK",
    "IPC_OWNER",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "NET_ADMIN",
    "NET_BROADCAST",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// Docker's masked paths (moby `oci/defaults.go`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// One mount of a step's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleMount {
    /// Where it appears in the container.
    pub destination: String,
    /// The filesystem type (`bind`, `tmpfs`, `proc`).
    pub kind: String,
    /// The source (a host path for binds).
    pub source: PathBuf,
    /// Mount options.
    pub options: Vec<String>,
}

impl BundleMount {
    fn new(destination: &str, kind: &str, source: &str, options: &[&str]) -> Self {
        BundleMount {
            destination: destination.to_owned(),
            kind: kind.to_owned(),
            source: PathBuf::from(source),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    /// A read-only bind mount of the host's `source` at `destination`.
    pub(crate) fn bind_readonly(source: &Path, destination: &str) -> Self {
        BundleMount {
            destination: destination.to_owned(),
            kind: "bind".to_owned(),
            source: source.to_owned(),
            options: ["rbind", "ro", "nosuid", "nodev"]
                .iter()
                .map(|o| (*o).to_owned())
                .collect(),
        }
    }

    fn to_oci(&self) -> Result<Mount, ExecError> {
        MountBuilder::default()
            .destination(&self.destination)
            .typ(&self.kind)
            .source(&self.source)
            .options(self.options.clone())
            .build()
            .map_err(spec_error)
    }
}

/// The mounts every step gets, in mount order (parents before children).
pub(crate) fn standard_mounts(insecure: bool) -> Vec<BundleMount> {
    let sys = if insecure {
        BundleMount::new("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev"])
    } else {
        BundleMount::new(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )
    };
    vec![
        BundleMount::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        BundleMount::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        BundleMount::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        BundleMount::new(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        BundleMount::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        sys,
        BundleMount::bind_readonly(Path::new("/etc/resolv.conf"), "/etc/resolv.conf"),
        BundleMount::bind_readonly(Path::new("/etc/hosts"), "/etc/hosts"),
    ]
}

/// The process of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessSpec {
    /// The argv.
    pub args: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// The working directory (absolute).
    pub cwd: String,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
}

/// Everything `config.json` is made from.
#[derive(Debug, Clone)]
pub(crate) struct BundleSpec {
    /// The process.
    pub process: ProcessSpec,
    /// The root filesystem (absolute).
    pub rootfs: PathBuf,
    /// The hostname.
    pub hostname: String,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security=insecure` (allowed by the caller).
    pub insecure: bool,
    /// Every mount, in order: [`standard_mounts`] then the step's own.
    pub mounts: Vec<BundleMount>,
}

fn spec_error(e: oci_spec::OciSpecError) -> ExecError {
    ExecError::RuntimeSpec {
        reason: e.to_string(),
    }
}

fn capabilities(insecure: bool) -> Result<Capabilities, ExecError> {
    let extra: &[&str] = if insecure { INSECURE_CAPABILITIES } else { &[] };
    DEFAULT_CAPABILITIES
        .iter()
        .chain(extra)
        .map(|name| {
            Capability::from_str(name).map_err(|_| ExecError::RuntimeSpec {
                reason: format!("unknown capability {name}"),
            })
        })
        .collect()
}

/// The OCI runtime spec of `bundle`.
pub(crate) fn runtime_spec(bundle: &BundleSpec) -> Result<Spec, ExecError> {
    let p = &bundle.process;
    let user = UserBuilder::default()
        .uid(p.uid)
        .gid(p.gid)
        .additional_gids(p.additional_gids.clone())
        .build()
        .map_err(spec_error)?;
    let caps = capabilities(bundle.insecure)?;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build()
        .map_err(spec_error)?;
    let mut process = ProcessBuilder::default()
        .terminal(false)
        .user(user)
        .args(p.args.clone())
        .env(p.env.clone())
        .cwd(&p.cwd)
        .capabilities(capabilities)
        .no_new_privileges(false)
        .build()
        .map_err(spec_error)?;
    // `Process::default()` brings an RLIMIT_NOFILE of its own: inherit the builder's instead
    // (never above the hard limits; this host lacks CAP_SYS_RESOURCE to raise them).
    process.set_rlimits(None);
    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if bundle.network == NetworkMode::None {
        kinds.push(LinuxNamespaceType::Network);
    }
    let namespaces = kinds
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_error)?;
    let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut linux = LinuxBuilder::default().namespaces(namespaces);
    if !bundle.insecure {
        linux = linux
            .masked_paths(strings(MASKED_PATHS))
            .readonly_paths(strings(READONLY_PATHS));
    }
    let mut linux = linux.build().map_err(spec_error)?;
    // `Linux::default()` brings cgroup device rules and masked paths of its own.
    linux.set_resources(None);
    if bundle.insecure {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    }
    let root = RootBuilder::default()
        .path(&bundle.rootfs)
        .readonly(false)
        .build()
        .map_err(spec_error)?;
    let mounts = bundle
        .mounts
        .iter()
        .map(BundleMount::to_oci)
        .collect::<Result<Vec<_>, _>>()?;
    SpecBuilder::default()
        .version("1.0.2-dev")
        .root(root)
        .process(process)
        .hostname(&bundle.hostname)
        .mounts(mounts)
        .linux(linux)
        .build()
        .map_err(spec_error)
}

/// Writes `bundle`'s `config.json` into the directory `dir`.
pub(crate) fn write_bundle(dir: &Path, bundle: &BundleSpec) -> Result<(), ExecError> {
    let spec = runtime_spec(bundle)?;
    let path = dir.join("config.json");
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| ExecError::RuntimeSpec {
        reason: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(ExecError::io("write", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(network: NetworkMode, insecure: bool) -> BundleSpec {
        BundleSpec {
            process: ProcessSpec {
                args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
                env: vec!["PATH=/bin".into()],
                cwd: "/".into(),
                uid: 1000,
                gid: 1000,
                additional_gids: vec![10],
            },
            rootfs: PathBuf::from("/tmp/rootfs"),
            hostname: "hoist".into(),
            network,
            insecure,
            mounts: standard_mounts(insecure),
        }
    }

    #[test]
    fn the_spec_has_dockers_sandbox() {
        let spec = runtime_spec(&bundle(NetworkMode::Default, false)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let caps = json["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap();
        assert_eq!(caps.len(), DEFAULT_CAPABILITIES.len());
        assert!(caps.iter().any(|c| c == "CAP_MKNOD"));
        let namespaces: Vec<_> = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(namespaces, ["pid", "ipc", "uts", "mount"]);
        assert!(json["linux"].get("resources").is_none());
        assert!(json["process"].get("rlimits").is_none());
        assert_eq!(json["linux"]["maskedPaths"][0], "/proc/asound");
        assert_eq!(json["process"]["user"]["additionalGids"][0], 10);
    }

    #[test]
    fn network_none_adds_a_namespace_and_insecure_all_caps() {
        let spec = runtime_spec(&bundle(NetworkMode::None, true)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let ns = json["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().any(|n| n["type"] == "network"));
        let caps = json["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap();
        assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(json["linux"].get("maskedPaths").is_none());
    }
}
