#!/usr/bin/env python3
"""Helpers for bench/run: deterministic context generators, image tree manifests and their
comparison, and the summary table (median/min/max, Hoist/buildah ratios).

    lib.py gen SCENARIO DIR BASE BIG_MIB FILES   write the context (seeded, deterministic)
    lib.py touch SCENARIO DIR N                  change the scenario's late input (run N)
    lib.py compare BUNDLE_A BUNDLE_B             compare two umoci bundles (rootfs + config)
    lib.py summary TSV OUT_MD OUT_JSON FACTS     median/min/max and ratios
"""
import hashlib
import json
import os
import random
import stat
import statistics
import sys

SEED = 7


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


def random_file(path, mib, seed):
    """MIB MiB of seeded pseudo-random (incompressible) bytes; kept if already the right size."""
    size = mib * 1024 * 1024
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    rng = random.Random(seed)
    with open(path + ".tmp", "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1024 * 1024))
    os.rename(path + ".tmp", path)


def gen(scenario, d, base, big_mib, files):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(f"{SEED}-{scenario}")
    if scenario == "tiny":
        write(f"{d}/hello.txt", "hello from the bench\n")
        df = f"""FROM {base}
LABEL bench=tiny
ENV GREETING=hello
WORKDIR /app
COPY hello.txt /app/hello.txt
RUN echo "$GREETING" > /app/echo.txt
EXPOSE 8080
CMD ["cat", "/app/hello.txt"]
"""
    elif scenario == "files10k":
        for i in range(files):
            body = "".join(rng.choice("abcdefghijklmnop \n") for _ in range(rng.randint(16, 400)))
            write(f"{d}/src/d{i // 100:03}/f{i:05}.txt", body)
        df = f"""FROM {base}
COPY src /app
RUN touch /app/d000/f00000.txt /app/d001/f00100.txt && echo built > /app/stamp
"""
    elif scenario == "big":
        random_file(f"{d}/random.bin", big_mib, SEED)
        write(f"{d}/late.txt", "late 0\n")
        line = "the quick brown fox jumps over the lazy dog 0123456789"
        df = f"""FROM {base}
COPY random.bin /data/random.bin
RUN yes '{line}' | head -c {big_mib * 1024 * 1024} > /data/text.txt
COPY late.txt /data/late.txt
"""
    elif scenario == "threestage":
        write(f"{d}/late.txt", "late 0\n")
        df = f"""FROM {base} AS one
RUN sleep 3 && echo one > /one.txt
FROM {base} AS two
RUN sleep 3 && echo two > /two.txt
FROM {base}
COPY --from=one /one.txt /one.txt
COPY --from=two /two.txt /two.txt
COPY late.txt /late.txt
CMD ["cat", "/one.txt", "/two.txt"]
"""
    elif scenario == "debian":
        write(f"{d}/late.txt", "late 0\n")
        df = f"""FROM {base}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY late.txt /late.txt
"""
    elif scenario == "fifty":
        lines = [f"FROM {base}"]
        for i in range(24):
            write(f"{d}/f{i:02}.txt", f"file {i} {rng.random()}\n")
            lines.append(f"COPY f{i:02}.txt /f/f{i:02}.txt")
            lines.append(f"ENV V{i:02}={i}")
        write(f"{d}/late.txt", "late 0\n")
        lines.append("RUN echo done > /f/done")
        lines.append("COPY late.txt /f/late.txt")
        df = "\n".join(lines) + "\n"
        assert len(lines) == 51
    else:
        sys.exit(f"unknown scenario {scenario}")
    write(f"{d}/Dockerfile", df)


def touch(scenario, d, n):
    if scenario == "tiny":
        write(f"{d}/hello.txt", f"hello from the bench, run {n}\n")
    elif scenario == "files10k":
        write(f"{d}/src/d000/f00001.txt", f"changed {n}\n")
    else:
        write(f"{d}/late.txt", f"late {n}\n")


def tree(root):
    """{path: (type, mode, uid, gid, size, sha256 or link target)} ignoring mtimes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = "/" + os.path.relpath(p, root)
            kind = stat.S_IFMT(st.st_mode)
            digest = ""
            size = 0
            if stat.S_ISREG(kind):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                digest = h.hexdigest()
                size = st.st_size
            elif stat.S_ISLNK(kind):
                digest = os.readlink(p)
            out[rel] = (oct(kind), oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid, size, digest)
    return out


CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts"]


def bundle_config(bundle):
    """The image config fields from umoci's bundle (umoci writes umoci.json + config.json;
    the image config is recovered from the OCI layout saved beside the bundle)."""
    with open(os.path.join(bundle, "image-config.json")) as f:
        cfg = json.load(f).get("config", {})
    return {k: cfg.get(k) or None for k in CONFIG_FIELDS}


# What buildah's RUN leaves behind (empty mount points of /etc/hosts etc.), not build content.
BUILDAH_ARTIFACTS = {"/dev", "/etc", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc",
                     "/run", "/sys"}
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# Files whose bytes hold the time of the build (logs, caches): compared without their sha256.
VOLATILE = ("/var/log/", "/var/cache/apt/pkgcache.bin", "/var/cache/apt/srcpkgcache.bin",
            "/var/cache/ldconfig/aux-cache")


def compare(a, b):
    ta, tb = tree(os.path.join(a, "rootfs")), tree(os.path.join(b, "rootfs"))
    problems = []
    ignored = 0
    for p in sorted(set(ta) | set(tb)):
        if p not in ta and p in BUILDAH_ARTIFACTS and tb[p][5] in ("", EMPTY_SHA):
            ignored += 1
        elif p not in ta:
            problems.append(f"only in buildah: {p} {tb[p]}")
        elif p not in tb:
            problems.append(f"only in hoist:   {p} {ta[p]}")
        elif p.startswith(VOLATILE) and ta[p][:5] == tb[p][:5]:
            ignored += 1
        elif ta[p] != tb[p]:
            problems.append(f"differs: {p} hoist={ta[p]} buildah={tb[p]}")
    ca, cb = bundle_config(a), bundle_config(b)
    for c in (ca, cb):
        if c["Labels"]:
            c["Labels"].pop("io.buildah.version", None)
            c["Labels"] = c["Labels"] or None
    for k in CONFIG_FIELDS:
        if ca[k] != cb[k]:
            problems.append(f"config {k}: hoist={ca[k]!r} buildah={cb[k]!r}")
    for line in problems:
        print("  " + line)
    print(f"  {len(ta)} entries (hoist), {len(tb)} (buildah), {len(problems)} mismatches"
          f" (ignored: {ignored} empty buildah RUN mount points or time-stamped logs/caches whose"
          " bytes alone differ, and the io.buildah.version label)")
    return 1 if problems else 0


def summary(tsv, out_md, out_json, facts_path):
    rows = {}
    extra = []
    with open(tsv) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "limit":
                extra.append({"what": parts[1], "value": parts[2], "unit": parts[3]})
                continue
            scenario, mode, tool, _run, secs, kib = parts[:6]
            cpu = float(parts[6]) if len(parts) > 6 else float("nan")
            rows.setdefault((scenario, mode), {}).setdefault(tool, []).append((float(secs), int(kib), cpu))
    with open(facts_path) as f:
        facts = json.load(f)

    def stats(xs):
        s = [x[0] for x in xs]
        return {"median": statistics.median(s), "min": min(s), "max": max(s),
                "rss_mib": max(x[1] for x in xs) / 1024, "n": len(s),
                "cpu_median": statistics.median(x[2] for x in xs)}

    table = []
    for (scenario, mode), tools in rows.items():
        h = stats(tools["hoist"]) if "hoist" in tools else None
        b = stats(tools["buildah"]) if "buildah" in tools else None
        # `cold-zstd` (Hoist only) is judged against buildah's cold build of the same scenario.
        if b is None and mode.startswith("cold-") and "buildah" in rows.get((scenario, "cold"), {}):
            b = stats(rows[(scenario, "cold")]["buildah"])
        ratio = h["median"] / b["median"] if h and b and b["median"] > 0 else None
        cpu_ratio = (h["cpu_median"] / b["cpu_median"]
                     if h and b and b["cpu_median"] > 0 else None)
        table.append({"scenario": scenario, "mode": mode, "hoist": h, "buildah": b, "ratio": ratio,
                      "cpu_ratio": cpu_ratio})
    lines = [
        f"# Bench results {facts['date']}",
        "",
        f"Machine: {facts['cores']} cores, {facts['cpu']}, load average before {facts['load_before']}, "
        f"after {facts['load_after']}. Runs per cell: {facts['runs']}, big layer size: "
        f"{facts['big_mib']} MiB, files: {facts['files']}. Hoist {facts['hoist']}, {facts['buildah']}.",
        "",
        "Wall time is what the targets judge; CPU is user + system seconds of the build's process"
        " tree (GNU time `%U + %S`, medians), which the machine's load changes far less.",
        "",
        "| scenario | mode | Hoist median (min–max) s | buildah median (min–max) s | Hoist/buildah | Hoist peak RSS MiB | buildah peak RSS MiB | CPU s Hoist / buildah (ratio) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(s):
        return f"{s['median']:.2f} ({s['min']:.2f}–{s['max']:.2f})" if s else "—"

    for r in table:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "—"
        hr = f"{r['hoist']['rss_mib']:.0f}" if r["hoist"] else "—"
        br = f"{r['buildah']['rss_mib']:.0f}" if r["buildah"] else "—"
        hc = f"{r['hoist']['cpu_median']:.2f}" if r["hoist"] else "—"
        bc = f"{r['buildah']['cpu_median']:.2f}" if r["buildah"] else "—"
        cr = f" ({r['cpu_ratio']:.2f})" if r["cpu_ratio"] is not None else ""
        lines.append(f"| {r['scenario']} | {r['mode']} | {cell(r['hoist'])} | {cell(r['buildah'])} | {ratio} | {hr} | {br} | {hc} / {bc}{cr} |")
    lines += ["", "Physical limits (same run):", "", "| what | value | unit |", "|---|---|---|"]
    for e in extra:
        lines.append(f"| {e['what']} | {e['value']} | {e['unit']} |")
    if facts.get("compare"):
        lines += ["", "Content check (Hoist image vs buildah image):", "", "```", facts["compare"].rstrip(), "```"]
    md = "\n".join(lines) + "\n"
    with open(out_md, "w") as f:
        f.write(md)
    with open(out_json, "w") as f:
        json.dump({"facts": facts, "table": table, "limits": extra}, f, indent=1)
    print(md)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "touch":
        touch(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    elif cmd == "summary":
        summary(*sys.argv[2:6])
    else:
        sys.exit(f"unknown command {cmd}")
