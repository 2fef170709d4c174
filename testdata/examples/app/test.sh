#!/bin/sh
# The app's tests: run by `hoist build --target test`; a failure fails the build.
set -e
out=$(./greet.sh world)
[ "$out" = "hello, world!" ] || { echo "FAIL: got '$out'"; exit 1; }
out=$(GREETING=hi ./greet.sh you)
[ "$out" = "hi, you!" ] || { echo "FAIL: got '$out'"; exit 1; }
echo "2 tests passed"
