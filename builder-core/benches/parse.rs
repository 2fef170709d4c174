//! Parsing throughput on a generated 10,000-line Dockerfile: the AST alone, the AST and the
//! typed instructions, and all of that plus the plan.
//!
//! Run with `cargo bench -p builder-core --bench parse`.

use std::hint::black_box;
use std::sync::Arc;

use builder_core::plan::{OfflineResolver, PlanOptions};
use builder_core::{SourceFile, dockerfile, instructions, plan};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// How many lines the generated Dockerfile has.
const LINES: usize = 10_000;

/// A small deterministic generator (an LCG), so that every run parses the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const BASES: &[&str] = &[
    "alpine:3.20",
    "debian:bookworm-slim",
    "golang:1.23-alpine",
    "node:22-bookworm",
    "python:3.12-slim",
    "ubuntu:24.04",
    "${REGISTRY}/base/${BASE_IMAGE}:${BASE_TAG}",
];

const PACKAGES: &[&str] = &[
    "ca-certificates",
    "curl",
    "git",
    "make",
    "gcc",
    "libc6-dev",
    "pkg-config",
    "libssl-dev",
    "tzdata",
    "openssh-client",
    "unzip",
    "xz-utils",
];

/// A multi-stage Dockerfile of exactly `lines` lines (give or take the last block): global
/// `ARG`s, then stages mixing `ARG`/`ENV`/`LABEL`, `RUN` in shell form with continuations,
/// in exec form, with heredocs and mounts, `COPY`/`ADD` with flags, comments and blank lines,
/// and a final stage that copies from every other one (so the plan covers the whole file).
fn generate(lines: usize) -> String {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut out = String::with_capacity(lines * 48);
    let mut n = 0;
    let mut line = |out: &mut String, text: &str| {
        out.push_str(text);
        out.push('\n');
        n += 1;
        n
    };

    line(&mut out, "# syntax=docker/dockerfile:1");
    line(&mut out, "# Generated for the parse benchmark.");
    line(&mut out, "ARG REGISTRY=registry.example.com");
    line(&mut out, "ARG BASE_IMAGE=alpine");
    line(&mut out, "ARG BASE_TAG=3.20");
    let mut done = line(&mut out, "ARG VERSION=1.2.3");

    let mut stage = 0;
    // Leave room for the final stage: a FROM, a COPY per stage and four more lines.
    while done + 100 + stage < lines {
        let base = BASES[rng.below(BASES.len() as u64) as usize];
        let from = if stage > 0 && rng.below(4) == 0 {
            format!("stage-{}", rng.below(stage as u64))
        } else {
            base.to_string()
        };
        line(&mut out, "");
        line(&mut out, &format!("# ---- stage {stage} ----"));
        line(&mut out, &format!("FROM {from} AS stage-{stage}"));
        line(&mut out, "ARG VERSION");
        line(&mut out, &format!("ARG STAGE_ID={stage}"));
        done = line(
            &mut out,
            "ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH LANG=C.UTF-8",
        );
        let stage_end = (done + 150 + rng.below(100) as usize).min(lines - stage - 30);
        while done < stage_end {
            done = block(&mut out, &mut rng, &mut line, stage);
        }
        stage += 1;
    }

    line(&mut out, "");
    line(&mut out, "FROM scratch AS final");
    for s in 0..stage {
        line(
            &mut out,
            &format!("COPY --from=stage-{s} --link /opt/app/bin/ /usr/local/bin/"),
        );
    }
    line(&mut out, "WORKDIR /usr/local/bin");
    line(&mut out, "USER 65532:65532");
    line(&mut out, r#"ENTRYPOINT ["/usr/local/bin/app"]"#);
    done = line(&mut out, r#"CMD ["--help"]"#);
    while done < lines {
        done = line(&mut out, "# padding");
    }
    out
}

/// One block of a stage; returns the line count so far.
fn block(
    out: &mut String,
    rng: &mut Rng,
    line: &mut impl FnMut(&mut String, &str) -> usize,
    stage: usize,
) -> usize {
    let pick = |rng: &mut Rng| PACKAGES[rng.below(PACKAGES.len() as u64) as usize];
    let k = rng.below(1000);
    match rng.below(12) {
        0 => {
            line(out, "");
            line(out, &format!("# Step {k}: install the build dependencies."))
        }
        1 => {
            line(out, "RUN set -eux; \\");
            line(out, "    apt-get update; \\");
            for _ in 0..(2 + rng.below(5)) {
                let package = pick(rng);
                line(
                    out,
                    &format!("    apt-get install -y --no-install-recommends {package}; \\"),
                );
            }
            line(out, "    rm -rf /var/lib/apt/lists/*")
        }
        2 => line(out, &format!("ARG OPT_{k}=\"value ${{VERSION}}-{k}\"")),
        3 => line(
            out,
            &format!(
                "ENV VAR_{k}=\"${{APP_HOME}}/lib/{k}\" FLAG_{k}=${{STAGE_ID:-0}} MODE_{k}='release build'"
            ),
        ),
        4 => line(
            out,
            &format!(
                "COPY --chown=1000:1000 --chmod=0755 --link src/{k}/ config/{k}.toml ${{APP_HOME}}/{k}/"
            ),
        ),
        5 => line(
            out,
            &format!(
                "LABEL org.opencontainers.image.version=\"${{VERSION}}\" com.example.stage=\"{stage}\" com.example.step=\"{k}\""
            ),
        ),
        6 => {
            line(out, "RUN <<EOF");
            line(out, "#!/bin/sh");
            line(out, "set -e");
            line(out, &format!("mkdir -p \"$APP_HOME/{k}\""));
            line(
                out,
                &format!("echo \"building {k} for $VERSION\" > \"$APP_HOME/{k}/build.txt\""),
            );
            line(out, "EOF")
        }
        7 => {
            line(out, &format!("COPY <<-CONFIG /etc/app/{k}.conf"));
            line(out, &format!("\tname = \"app-{k}\""));
            line(out, "\tport = 8080");
            line(out, "CONFIG")
        }
        8 => line(
            out,
            &format!(
                "RUN --mount=type=cache,target=/root/.cache,id=cache-{k} --mount=type=bind,source=go.sum,target=/src/go.sum [\"/bin/sh\", \"-c\", \"make -C /src build-{k}\"]"
            ),
        ),
        9 => line(
            out,
            &format!(
                "ADD --checksum=sha256:{:064x} https://example.com/files/{k}.tar.gz /tmp/{k}.tar.gz",
                rng.next()
            ),
        ),
        10 => line(out, &format!("WORKDIR ${{APP_HOME}}/work/{k}")),
        _ => {
            line(out, &format!("RUN ./configure --prefix=/opt/app/{k} \\"));
            line(out, "        --enable-static \\");
            line(out, "    # a comment inside the continuation");
            line(out, "        --disable-docs \\");
            line(out, "    && make -j\"$(nproc)\" && make install")
        }
    }
}

fn bench(c: &mut Criterion) {
    let text = generate(LINES);
    assert_eq!(text.lines().count(), LINES);
    let source: Arc<SourceFile> = SourceFile::new("Dockerfile", text.as_str());
    let options = PlanOptions::default();

    // The file must get through the whole pipeline, or the benchmark measures an early error.
    let ast = dockerfile::parse(&source).expect("the generated Dockerfile parses");
    let typed = instructions::parse(&ast).expect("the generated Dockerfile is valid");
    let planned =
        plan::plan(&typed, &options, &OfflineResolver).expect("the generated Dockerfile plans");
    assert!(planned.stages.len() > 10);

    let mut group = c.benchmark_group("parse-10k-lines");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("ast", |b| {
        b.iter(|| dockerfile::parse(black_box(&source)).expect("parses"));
    });
    group.bench_function("ast+instructions", |b| {
        b.iter(|| {
            let ast = dockerfile::parse(black_box(&source)).expect("parses");
            instructions::parse(&ast).expect("valid")
        });
    });
    group.bench_function("ast+instructions+plan", |b| {
        b.iter(|| {
            let ast = dockerfile::parse(black_box(&source)).expect("parses");
            let typed = instructions::parse(&ast).expect("valid");
            plan::plan(&typed, &options, &OfflineResolver).expect("plans")
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
