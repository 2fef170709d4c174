#!/usr/bin/env bash
# Pushes and pulls a 1 GiB blob to the real registry on loopback with registry-client (release
# build) and with curl in the same run, and prints both rates and the client's peak memory.
#   HOIST_BENCH_MIB=256 registry-client/bench/run.sh     # a smaller blob
#   HOIST_BENCH_ROUNDS=3 registry-client/bench/run.sh    # more rounds (best one counts)
# Needs docker-registry and curl (scripts/install-deps) and ~3 GiB free in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps
exec cargo bench --locked -p registry-client --bench push "$@"
