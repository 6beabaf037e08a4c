#!/bin/sh
# Install dependencies, build, and run the whole test suite (unit tests,
# EINTR torture, MariaDB connection storm, stackprof CLI compatibility),
# then the unit tests under ASan+UBSan.
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
# The unit tests again under ASan+UBSan (a separate build in
# sanitize/asan; STILLPROF_SKIP_ASAN=1 skips it).
if [ "${STILLPROF_SKIP_ASAN:-0}" != 1 ]; then
	arc=0
	make -s check-asan || arc=$?
	echo "ASan+UBSan unit tests: $([ "$arc" = 0 ] && echo passed || echo FAILED)"
	[ "$arc" = 0 ] || rc=$arc
fi
exit "$rc"
