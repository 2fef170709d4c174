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
