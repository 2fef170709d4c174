#!/usr/bin/env bash
# Copies the conformance data into fuzz/corpus/<target>/ as seeds (the corpus is gitignored).
# Needs jq. Run from anywhere: ./fuzz/seed.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
parse="$here/corpus/dockerfile_parse"
lexer="$here/corpus/shell_lexer"
mkdir -p "$parse" "$lexer"

# dockerfile_parse: every Dockerfile of the conformance suite and of the golden fixtures.
n=0
while IFS= read -r -d '' f; do
    cp "$f" "$parse/seed-$n"
    n=$((n + 1))
done < <(find "$root/testdata" -type f -name 'Dockerfile*' \
    ! -name '*.result' ! -name '*.ast.json' -print0 | sort -z)
echo "dockerfile_parse: $n seeds"

# shell_lexer: one seed per row of the shell tables. Layout (see fuzz_targets/shell_lexer.rs):
# an options byte, the word, then one NAME=value per line.
m=0
seed() { # $1: options byte (octal escape), $2: word, $3: env lines
    printf "$1%s\n%s" "$2" "$3" > "$lexer/seed-$m"
    m=$((m + 1))
}
env_var_env=$'PWD=/home\nSHELL=bash\nKOREAN=한국어\nNULL='
while IFS= read -r -d '' input; do
    seed '\000' "$input" "$env_var_env"
    seed '\001' "${input//\\/\`}" "$env_var_env"
done < <(jq -j '.cases[] | .input, "\u0000"' "$root/testdata/conformance/shell/envVarTest.json")
while IFS= read -r -d '' row; do
    input="${row%%$'\x01'*}"
    env="${row#*$'\x01'}"
    seed '\000' "$input" "$env"
    seed '\030' "$input" "$env"  # skip process quotes + skip unset env
done < <(jq -j '.cases[] | .input, "\u0001", (.env // [] | join("\n")), "\u0000"' \
    "$root/testdata/conformance/shell/wordsTest.json")
while IFS= read -r -d '' row; do
    input="${row%%$'\x01'*}"
    env="${row#*$'\x01'}"
    seed '\000' "$input" "$env"
    seed '\006' "$input" "$env"  # raw quotes + raw escapes
done < <(jq -j '.cases[] | .input, "\u0001",
        (.envs // {} | to_entries | map("\(.key)=\(.value)") | join("\n")), "\u0000"' \
    "$root/testdata/conformance/shell/processWithMatches.json")
echo "shell_lexer: $m seeds"

# dockerignore_match: a .dockerignore, a NUL, then paths one per line. One seed per case of the
# patternmatcher table (its patterns as a file, its path), one per ReadAll case.
ignore="$here/corpus/dockerignore_match"
mkdir -p "$ignore"
k=0
jq -c '.cases[]' "$root/testdata/conformance/dockerignore/dockerignore-cases.json" |
while IFS= read -r case; do
    { jq -j '.patterns | join("\n")' <<<"$case"; printf '\0'; jq -j '.path, "\n"' <<<"$case"; } \
        > "$ignore/seed-$k"
    k=$((k + 1))
done
jq -c '.cases[]' "$root/testdata/conformance/dockerignore/dockerignore-readall-cases.json" |
while IFS= read -r case; do
    { jq -j '.input' <<<"$case"; printf '\0a/file/here\ntest1\n'; } > "$ignore/readall-$k"
    k=$((k + 1))
done
echo "dockerignore_match: $(ls "$ignore" | wc -l) seeds"

# reference_parse: every input of the docker/reference table.
refs="$here/corpus/reference_parse"
mkdir -p "$refs"
r=0
while IFS= read -r -d '' input; do
    printf '%s' "$input" > "$refs/seed-$r"
    r=$((r + 1))
done < <(jq -j '.cases[] | .input, "\u0000"' "$root/testdata/conformance/reference/reference-parsing.json")
echo "reference_parse: $r seeds"

# image_documents: every image-spec fixture and schema, each with three selector bytes
# (content type none / OCI manifest / OCI index; schema kind descriptor / manifest / config).
docs="$here/corpus/image_documents"
mkdir -p "$docs"
d=0
while IFS= read -r -d '' f; do
    for sel in '\000' '\021' '\062'; do
        { printf "$sel"; cat "$f"; } > "$docs/seed-$d"
        d=$((d + 1))
    done
done < <(find "$root/testdata/conformance/image-spec" -type f -name '*.json' -print0 | sort -z)
echo "image_documents: $d seeds"

# www_authenticate: challenges as registries send them.
auth="$here/corpus/www_authenticate"
mkdir -p "$auth"
a=0
for h in \
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"' \
    'Basic realm="Registry \"Realm\""' \
    'BEARER  Realm = "https://x/t" , Service=svc,scope="a:b:pull,push"' \
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull",error="insufficient_scope"' \
    'Basic realm="r", Bearer realm="https://t/token",service=s' \
    'Negotiate, Basic realm=x' \
    'Bearer realm=https://unquoted/token,service=s' \
    'Basic' ; do
    printf '%s' "$h" > "$auth/seed-$a"
    a=$((a + 1))
done
echo "www_authenticate: $a seeds"

# tar_extract: an options byte, then a layer made by python's tarfile: files, directories, a
# symlink, a hard link, a whiteout, an opaque marker, a long (PAX) name, `../` and absolute
# names, a fifo; plain and gzip.
tars="$here/corpus/tar_extract"
mkdir -p "$tars"
python3 - "$tars" <<'PY'
import gzip, io, sys, tarfile
out = sys.argv[1]
def layer(entries, fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, arg in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "file":
                info.size = len(arg); t.addfile(info, io.BytesIO(arg))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE; info.mode = 0o755; t.addfile(info)
            elif kind == "sym":
                info.type = tarfile.SYMTYPE; info.linkname = arg; t.addfile(info)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE; info.linkname = arg; t.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE; t.addfile(info)
    return buf.getvalue()
sets = [
    [("etc", "dir", None), ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n"),
     ("etc/link", "sym", "passwd"), ("etc/hard", "hard", "etc/passwd")],
    [("a", "dir", None), ("a/.wh.b", "file", b""), ("a/.wh..wh..opq", "file", b""),
     ("c", "fifo", None)],
    [("../escape", "file", b"x"), ("/abs", "file", b"y"), ("up", "sym", "../../.."),
     ("up/through", "file", b"z"), ("h", "hard", "../../etc/passwd")],
    [("d" * 120 + "/" + "e" * 150, "file", b"long"), ("x", "sym", "/" + "f" * 200)],
]
n = 0
for entries in sets:
    for fmt in (tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        try:
            raw = layer(entries, fmt)
        except ValueError:
            continue
        for flags, data in ((0, raw), (1, raw), (2, raw), (4, gzip.compress(raw, mtime=0))):
            with open(f"{out}/seed-{n}", "wb") as f:
                f.write(bytes([flags]) + data)
            n += 1
print(f"tar_extract: {n} seeds")
PY
