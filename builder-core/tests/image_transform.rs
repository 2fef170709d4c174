//! Config transformations and BuildKit's history texts, instruction by instruction.

use builder_core::SourceFile;
use builder_core::image::{
    Healthcheck, ImageConfig, ImageError, creates_layer, history_text, normalize_workdir,
    parse_port_spec,
};
use builder_core::instructions::{self, Instruction};
use registry_client::Platform;

fn linux() -> ImageConfig {
    ImageConfig::scratch(&Platform::new("linux", "amd64", None))
}

fn instruction(line: &str) -> Instruction {
    let source = SourceFile::new("Dockerfile", format!("FROM scratch\n{line}\n"));
    let ast = builder_core::dockerfile::parse(&source).expect("parses");
    let dockerfile = instructions::parse(&ast).expect("typed");
    dockerfile.stages[0].steps[0].instruction.clone()
}

fn text(line: &str, before: &ImageConfig, args: &[(&str, &str)]) -> Option<String> {
    let args: Vec<(String, String)> = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    history_text(&instruction(line), before, &args).expect("history text")
}

#[test]
fn workdir_joins_relative_paths_like_go() {
    assert_eq!(normalize_workdir("", "app"), "/app");
    assert_eq!(normalize_workdir("/srv", "app/../web/./x"), "/srv/web/x");
    assert_eq!(normalize_workdir("/srv", "../../.."), "/");
    assert_eq!(
        normalize_workdir("/srv", "/abs/"),
        "/abs/",
        "absolute paths are kept"
    );
    assert_eq!(normalize_workdir("srv", "x"), "/srv/x");
    assert_eq!(normalize_workdir("/srv", ""), "/srv");
    let c = linux().with_workdir("a").with_workdir("b//c/");
    assert_eq!(c.config.working_dir, "/a/b/c");
}

#[test]
fn expose_parses_ports_like_buildkit() {
    let p = |s: &str| parse_port_spec(s).unwrap();
    assert_eq!(p("80"), ["80/tcp"]);
    assert_eq!(p("53/UDP"), ["53/udp"]);
    assert_eq!(p("132/sctp"), ["132/sctp"]);
    assert_eq!(p("8000-8002/tcp"), ["8000/tcp", "8001/tcp", "8002/tcp"]);
    assert_eq!(p("7-7"), ["7/tcp"]);
    assert_eq!(p("0"), ["0/tcp"]);
    assert_eq!(
        p("8080:80"),
        ["80/tcp"],
        "a host port is accepted and ignored"
    );
    assert_eq!(p("127.0.0.1:8080:80/udp"), ["80/udp"]);
    assert_eq!(p("[::1]:8080:80"), ["80/tcp"]);
    for bad in [
        "",
        "/tcp",
        "80/xyz",
        "65536",
        "-1",
        "abc",
        "90-80",
        "80-",
        "1.2.3:80:80",
        "8000-8002:80-81",
    ] {
        assert!(
            matches!(parse_port_spec(bad), Err(ImageError::InvalidPort { .. })),
            "{bad:?}"
        );
    }
    let c = linux()
        .with_exposed_port("80")
        .unwrap()
        .with_exposed_port("53/udp")
        .unwrap();
    let ports: Vec<&str> = c.config.exposed_ports.keys().map(String::as_str).collect();
    assert_eq!(ports, ["53/udp", "80/tcp"]);
}

#[test]
fn entrypoint_resets_inherited_cmd_but_not_one_set_in_the_stage() {
    let base = linux().with_cmd(vec!["bash".into()]);
    let inherited = base.clone().with_entrypoint(vec!["/init".into()], false);
    assert_eq!(inherited.config.cmd, None);
    assert_eq!(
        inherited.config.entrypoint.as_deref(),
        Some(&["/init".to_owned()][..])
    );
    let same_stage = base.with_entrypoint(vec!["/init".into()], true);
    assert_eq!(
        same_stage.config.cmd.as_deref(),
        Some(&["bash".to_owned()][..])
    );
    // CMD sets ArgsEscaped; an empty ENTRYPOINT is stored but not written.
    let c = linux().with_cmd(vec![]).with_entrypoint(vec![], true);
    assert!(c.config.args_escaped);
    let json = String::from_utf8(c.to_canonical_json()).unwrap();
    assert!(
        !json.contains("Entrypoint") && !json.contains("\"Cmd\""),
        "{json}"
    );
}

#[test]
fn env_replaces_in_place_and_appends_new_keys() {
    let c = linux()
        .with_env("A", "1")
        .with_env("B", "2")
        .with_env("A", "3")
        .with_default_path_env()
        .with_env("C", "x=y");
    assert_eq!(
        c.config.env,
        [
            "A=3",
            "B=2",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "C=x=y"
        ]
    );
    assert_eq!(c.env("C"), Some("x=y"));
    let with_path = linux().with_env("PATH", "/bin").with_default_path_env();
    assert_eq!(with_path.config.env, ["PATH=/bin"]);
    let windows = ImageConfig::scratch(&Platform::new("windows", "amd64", None));
    assert!(windows.with_default_path_env().config.env.is_empty());
}

#[test]
fn other_transformations() {
    let c = linux()
        .with_label("b", "2")
        .with_label("a", "1")
        .with_user("app:app")
        .with_volume("/data")
        .unwrap()
        .with_shell(vec!["/bin/bash".into(), "-c".into()])
        .with_stop_signal("SIGRTMIN+3")
        .unwrap()
        .with_onbuild("RUN make")
        .with_onbuild("COPY . /src")
        .with_maintainer("me <me@x>");
    assert_eq!(c.config.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(c.config.on_build, ["RUN make", "COPY . /src"]);
    assert_eq!(c.author, "me <me@x>");
    assert_eq!(c.shell_args("echo"), ["/bin/bash", "-c", "echo"]);
    assert_eq!(linux().shell_args("echo"), ["/bin/sh", "-c", "echo"]);
    assert!(matches!(
        linux().with_volume(""),
        Err(ImageError::EmptyVolume)
    ));
    for ok in ["SIGTERM", "term", "9", "SIGRTMAX-2", "USR1"] {
        assert!(linux().with_stop_signal(ok).is_ok(), "{ok}");
    }
    for bad in ["SIGFOO", "0", "65", "RTMIN+16", ""] {
        assert!(linux().with_stop_signal(bad).is_err(), "{bad}");
    }
    let Instruction::Healthcheck(h) =
        instruction("HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://x/")
    else {
        panic!("not a healthcheck")
    };
    let hc = Healthcheck::from_instruction(&h);
    assert_eq!(hc.test, ["CMD-SHELL", "curl -f http://x/"]);
    assert_eq!(
        (hc.interval, hc.timeout, hc.retries),
        (30_000_000_000, 0, 3)
    );
}

#[test]
fn history_texts_for_every_instruction() {
    let base = linux().with_env("HOME", "/root").with_workdir("/srv");
    let none: &[(&str, &str)] = &[];
    let cases: &[(&str, &str)] = &[
        ("RUN echo hi", "RUN /bin/sh -c echo hi # buildkit"),
        (r#"RUN ["echo", "a b"]"#, "RUN echo a b # buildkit"),
        ("COPY foo /bar", "COPY foo /bar # buildkit"),
        // --from and --link are not recorded. BuildKit writes --chmod as given (`644`); the
        // typed instruction keeps only the mode, written as four octal digits.
        (
            "COPY --from=build --chown=1:2 --chmod=644 --link a b /dst/",
            "COPY --chown=1:2 --chmod=0644 a b /dst/ # buildkit",
        ),
        (
            "COPY --parents a/./b /x",
            "COPY --parents a/./b /x # buildkit",
        ),
        (
            "ADD https://x/y.tgz /z",
            "ADD https://x/y.tgz /z # buildkit",
        ),
        ("WORKDIR app", "WORKDIR /srv/app"),
        ("WORKDIR /", "WORKDIR /"),
        ("ENV A=b C=\"d e\"", "ENV A=b C=\"d e\""),
        ("LABEL a=b", "LABEL a=b"),
        ("ARG x=y z", "ARG x=y z"),
        // BuildKit's instruction parser sorts the EXPOSE words (as does ours).
        (
            "EXPOSE 80 53/UDP 8000-8001",
            "EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]",
        ),
        ("CMD [\"sh\"]", r#"CMD ["sh"]"#),
        ("CMD echo \"hi\"", r#"CMD ["/bin/sh" "-c" "echo \"hi\""]"#),
        (
            "ENTRYPOINT [\"/init\", \"a\\tb\"]",
            r#"ENTRYPOINT ["/init" "a\tb"]"#,
        ),
        ("USER u:g", "USER u:g"),
        ("VOLUME /a /b", "VOLUME [/a /b]"),
        ("VOLUME [\"/data\"]", "VOLUME [/data]"),
        ("STOPSIGNAL SIGKILL", "STOPSIGNAL SIGKILL"),
        (
            "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]",
            "SHELL [/bin/bash -o pipefail -c]",
        ),
        ("MAINTAINER Jane <j@x>", "MAINTAINER Jane <j@x>"),
        (
            "HEALTHCHECK --interval=1m30s --timeout=3s --retries=2 CMD curl -f http://x/",
            "HEALTHCHECK {Test:[CMD-SHELL curl -f http://x/] Interval:1m30s Timeout:3s \
             StartPeriod:0s StartInterval:0s Retries:2}",
        ),
        (
            "HEALTHCHECK NONE",
            "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(text(line, &base, none).as_deref(), Some(*want), "{line}");
    }
    assert_eq!(text("ONBUILD RUN make", &base, none), None);
}

#[test]
fn history_texts_with_context() {
    let base = linux().with_env("V", "from-env");
    // RUN lists the ARGs in scope, an ENV value winning over the ARG's.
    let args = [("A", "1"), ("V", "from-arg"), ("A", "2")];
    assert_eq!(
        text("RUN make", &base, &args).unwrap(),
        "RUN |2 A=2 V=from-env /bin/sh -c make # buildkit"
    );
    // ARG records the value in effect (a build arg overrides the default).
    assert_eq!(
        text("ARG A=0 B", &base, &[("A", "9")]).unwrap(),
        "ARG A=9 B"
    );
    // Shell form goes through the stage's SHELL.
    let bash = base
        .clone()
        .with_shell(vec!["/bin/bash".into(), "-c".into()]);
    assert_eq!(
        text("RUN echo hi", &bash, &[]).unwrap(),
        "RUN /bin/bash -c echo hi # buildkit"
    );
    // Heredocs: a lone heredoc runs its body; a shebang body runs from /dev/pipes.
    assert_eq!(
        text("RUN <<EOF\necho a\necho b\nEOF", &base, &[]).unwrap(),
        "RUN /bin/sh -c echo a\necho b\n # buildkit"
    );
    assert_eq!(
        text(
            "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF",
            &base,
            &[]
        )
        .unwrap(),
        "RUN /bin/sh -c /dev/pipes/EOF # buildkit"
    );
    assert_eq!(
        text("RUN cat <<EOF > /f\nhello\nEOF", &base, &[]).unwrap(),
        "RUN /bin/sh -c cat <<EOF > /f\nhello\nEOF # buildkit"
    );
    assert_eq!(
        text("COPY <<EOF /etc/x\nhi\nEOF", &base, &[]).unwrap(),
        "COPY <<EOF /etc/x # buildkit"
    );
    let root = linux();
    assert!(creates_layer(&instruction("WORKDIR /app"), &root));
    assert!(!creates_layer(&instruction("WORKDIR /"), &root));
    assert!(creates_layer(&instruction("RUN true"), &root));
    assert!(!creates_layer(&instruction("ENV A=b"), &root));
}
