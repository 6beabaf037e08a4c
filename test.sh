#!/bin/sh
# Install dependencies, build, and run the whole test suite (unit tests,
# EINTR torture, MariaDB connection storm, stackprof CLI compatibility).
set -eu
cd "$(dirname "$0")"
sh scripts/deps.sh
sh scripts/build.sh
rc=0
make -s check || rc=$?
[ "$rc" = 0 ] || cat test-suite.log 2>/dev/null || true
# One closing line for CI: automake's counts from the suite log.
count() { sed -n "s/^# $1: *//p" test-suite.log 2>/dev/null | head -1; }
echo "$(count PASS) passed, $(( $(count FAIL) + $(count ERROR) + $(count XPASS) )) failed, $(count SKIP) skipped"
exit "$rc"
