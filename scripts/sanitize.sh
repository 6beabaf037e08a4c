#!/bin/sh
# sanitize.sh MODE - build a copy of the tree with a sanitizer and run the
# test suite there (`make check-asan`, `make check-tsan`), or run the unit
# tests under valgrind memcheck (`make check-valgrind`).
#
#   asan      gcc -fsanitize=address,undefined, recovery off: the first
#             report fails the test
#   tsan      gcc -fsanitize=thread
#   valgrind  the unit tests of this build under memcheck: an invalid
#             access, uninitialised use or definite leak fails (exit 99)
#
# The sanitizer builds live in $BUILDDIR/sanitize/MODE (a copy of the
# files git knows plus the generated build system, so no autoreconf), and
# leave this tree's build alone.  SANITIZE_TESTS overrides the test list.
set -eu
MODE=${1:?usage: sanitize.sh asan|tsan|valgrind}
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

unit_tests() {
	sed -n '/^if HAVE_CMOCKA/,/^endif/p' "$SRCDIR/Makefile.am" |
		grep -o 'tests/unit/test_[a-z_]*' | sort -u | tr '\n' ' '
}

if [ "$MODE" = valgrind ]; then
	command -v valgrind >/dev/null 2>&1 || { echo "valgrind: not installed"; exit 77; }
	cd "$BUILDDIR"
	tests=${SANITIZE_TESTS:-$(unit_tests)}
	# shellcheck disable=SC2086 # the list is words
	make -s $tests
	fail=0
	mkdir -p sanitize/valgrind
	for t in $tests; do
		log=sanitize/valgrind/$(basename "$t").log
		# Under valgrind the perf samples carry the registers of its JIT,
		# not of the program: tests that check sampled stacks by
		# function name read STILLPROF_UNDER_VALGRIND and skip those
		# assertions (not the memory checks).
		if STILLPROF_UNDER_VALGRIND=1 STILLPROF_TEST_CYCLES=300 \
			STILLPROF_CHURN_SECONDS=1 \
			valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite --track-origins=yes \
			--child-silent-after-fork=yes "./$t" >"$log" 2>&1; then
			echo "PASS: $t"
		else
			echo "FAIL: $t (rc $?; see $log)"
			tail -30 "$log"
			fail=1
		fi
	done
	exit $fail
fi

case $MODE in
asan)
	FLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	# detect_leaks: every session, store and reader must free all.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	;;
tsan)
	FLAGS="-O1 -g -fsanitize=thread"
	# ~30x slower per start/stop cycle than without TSan.
	export STILLPROF_TEST_CYCLES=${STILLPROF_TEST_CYCLES:-1000}
	# TSan cannot start threads in the child of a multi-threaded fork
	# ("dup thread with used id" even with die_after_fork=0): the forked
	# children of test_lifecycle skip starting a session of their own.
	export STILLPROF_TEST_NO_THREADS_AFTER_FORK=1
	export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
	;;
*)
	echo "sanitize.sh: unknown mode $MODE"; exit 2 ;;
esac

OUT=$BUILDDIR/sanitize/$MODE
SRC=$OUT/src
# Kept between runs: files copied again keep their times, so make only
# rebuilds what changed since.
mkdir -p "$SRC"
if ! command -v git >/dev/null 2>&1 || ! git -C "$SRCDIR" rev-parse >/dev/null 2>&1; then
	echo "sanitize.sh: needs a git checkout (to know the source files)"
	exit 77
fi
# The files git knows (committed or not, minus ignored ones), then the
# generated build system with its timestamps so make does not rerun
# autotools.
(cd "$SRCDIR" && git ls-files -co --exclude-standard) |
	(cd "$SRCDIR" && tar -cf - -T -) | (cd "$SRC" && tar -xf -)
(cd "$SRCDIR" && tar -cf - configure Makefile.in aclocal.m4 config.h.in \
	build-aux m4) | (cd "$SRC" && tar -xf -)
cd "$SRC"
[ -f Makefile ] ||
./configure -q CFLAGS="$FLAGS" LDFLAGS="-fsanitize=${FLAGS##*-fsanitize=}" \
	>"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
# Units only by default: the integration tests LD_PRELOAD the profiler
# into uninstrumented programs, which the sanitizer runtimes refuse.
tests=${SANITIZE_TESTS:-$(unit_tests)}
rc=0
# shellcheck disable=SC2086 # the list is words
make -s -j"$JOBS" >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
make -s -j"$JOBS" check TESTS="$tests" || rc=$?
[ $rc = 0 ] || for f in tests/unit/*.log; do
	grep -l -E 'ERROR|FAIL|WARNING: ThreadSanitizer|runtime error' "$f" \
		>/dev/null 2>&1 && { echo "== $f"; tail -60 "$f"; }
done
exit $rc
