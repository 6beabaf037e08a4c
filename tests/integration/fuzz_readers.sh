#!/bin/sh
# fuzz_readers.sh - run every libFuzzer target of `make fuzz` for a short,
# bounded time in the test suite (FUZZ_SMOKE_SECONDS per target, default
# 10), so a parser regression that crashes on mutated input fails CI and
# not only a manual `make fuzz`.  Crashing inputs land in fuzz/artifacts/.
# Exit 0 pass, 1 fail (crash), 77 skip (no clang with libFuzzer).
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_readers.XXXXXX") || exit 99
trap 'rm -rf "$OUT"' EXIT
trap 'exit 1' INT TERM HUP
# The seconds are per target: the whole run stays within a few minutes.
SRCDIR=$SRCDIR FUZZ_OUT=$OUT FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} \
	timeout 600 sh "$SRCDIR/fuzz/run.sh"
rc=$?
case $rc in
0) echo "PASS: every fuzz target ran without a crash" ;;
77) echo "SKIP: no clang/libFuzzer" ;;
*) echo "FAIL: fuzz/run.sh exited $rc (crash inputs: $SRCDIR/fuzz/artifacts)"; rc=1 ;;
esac
exit $rc
