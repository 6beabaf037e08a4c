#!/bin/sh
# install_and_link.sh - `make install` into a temporary prefix, then use
# what was installed the way a user would:
#
#   * the header, both libraries, stillprof.pc, the CLI and the preload
#     module are where the README says;
#   * a C program using the public API exactly as the README shows (threads
#     computing, one thread in poll) builds with
#     `cc prog.c $(pkg-config --cflags --libs stillprof)`, runs against the
#     installed shared library and writes a dump that stackprof reads;
#   * the same program linked statically against libstillprof.a
#     (`pkg-config --static --libs`) runs too;
#   * the installed `stillprof record` finds the installed preload module;
#   * `make uninstall` removes every installed file.
#
# Environment: BUILDDIR (default .), SRCDIR (default .), STILLPROF (unused
# here: the installed CLI is tested), MAKE (default make), CC (default cc),
# PKG_CONFIG (default pkg-config), STACKPROF (default stackprof).
# Exit 0 pass, 1 fail, 77 skip (perf_event_open unusable), 99 setup error.

BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
MAKE=${MAKE:-make}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
STACKPROF=${STACKPROF:-stackprof}
DEMO=$BUILDDIR/examples/demo
LIMIT=60

for tool in timeout "$MAKE" "$CC" "$PKG_CONFIG"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "ERROR: no $tool"; exit 99; }
done
[ -f "$BUILDDIR/Makefile" ] || { echo "ERROR: $BUILDDIR is not configured"; exit 99; }
[ -x "$DEMO" ] || { echo "ERROR: $DEMO is not built"; exit 99; }

paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
if [ "$paranoid" -gt 2 ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: kernel.perf_event_paranoid=$paranoid and not root"
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/install_and_link.XXXXXX") || exit 99
P=$T/prefix
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
failures=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; }
finish() {
	echo
	if [ $failures -eq 0 ]; then
		echo "PASS: install_and_link.sh"
		exit 0
	fi
	echo "FAIL: install_and_link.sh: $failures failure(s)"
	exit 1
}

# ---- make install ----
if timeout -k 10 600 "$MAKE" -C "$BUILDDIR" install prefix="$P" \
	>"$T/install.log" 2>&1; then
	pass "make install prefix=$P"
else
	fail "make install prefix=$P failed:"
	tail -n 20 "$T/install.log" | sed 's/^/    /'
	finish
fi
for f in include/stillprof.h lib/libstillprof.so lib/libstillprof.a \
	lib/pkgconfig/stillprof.pc bin/stillprof \
	lib/stillprof/libstillprof_preload.so; do
	if [ -e "$P/$f" ]; then pass "installed $f"; else fail "not installed: $f"; fi
done
[ -x "$P/bin/stillprof" ] || fail "bin/stillprof is not executable"

# Only the public API is exported by the shared library.
if command -v nm >/dev/null 2>&1 && [ -e "$P/lib/libstillprof.so" ]; then
	extra=$(nm -D --defined-only "$P/lib/libstillprof.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
		sed 's/@.*//' | grep -v '^stillprof_' | grep -v '^STILLPROF' | tr '\n' ' ')
	if [ -z "$extra" ]; then
		pass "libstillprof.so exports only stillprof_* symbols"
	else
		fail "libstillprof.so exports non-API symbols: $extra"
	fi
fi

# ---- pkg-config ----
PKG_CONFIG_PATH=$P/lib/pkgconfig
export PKG_CONFIG_PATH
pc_prefix=$("$PKG_CONFIG" --variable=prefix stillprof 2>"$T/pc.err")
if [ "$pc_prefix" = "$P" ]; then
	pass "stillprof.pc: prefix=$P"
	PC="$PKG_CONFIG"
else
	fail "installed stillprof.pc says prefix=$pc_prefix, not the install prefix $P (it is made by configure, so 'make install prefix=' does not reach it)"
	# go on with the files that were installed, to test the rest
	PC="$PKG_CONFIG --define-variable=prefix=$P"
fi
# shellcheck disable=SC2086 # $PC may carry an option
if ! { cflags=$($PC --cflags stillprof) && libs=$($PC --libs stillprof) &&
	slibs=$($PC --static --libs stillprof); }; then
	fail "pkg-config stillprof failed: $(cat "$T/pc.err")"
	finish
fi
echo "    cflags: $cflags"
echo "    libs:   $libs"
echo "    static: $slibs"

# ---- a program using the public API ----
cat >"$T/prog.c" <<'EOF'
/* prog.c - uses libstillprof exactly as the README shows: options_init,
 * session_new, start, work in several threads (two computing, one in
 * poll), stop, write, free.  Exit 0 ok, 1 failure, 3 perf denied. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <stillprof.h>

static atomic_int stop_work;
static atomic_long poll_eintr;
volatile uint64_t prog_sink;

#define CHECK(call)                                                          \
	do {                                                                 \
		int rc_ = (call);                                            \
		if (rc_ != 0) {                                              \
			fprintf(stderr, "prog: %s: %s (%s)\n", #call,            \
			        stillprof_strerror(rc_),                     \
			        stillprof_errname(rc_));                     \
			exit(rc_ == STILLPROF_EPERFDENIED ? 3 : 1);          \
		}                                                            \
	} while (0)

__attribute__((noinline)) uint64_t installtest_mix(uint64_t x)
{
	for (int i = 0; i < 50000; i++)
		x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ull + (uint64_t)i;
	return x;
}

__attribute__((noinline)) void *installtest_compute(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	while (!atomic_load(&stop_work))
		x = installtest_mix(x);
	prog_sink = x;
	return NULL;
}

__attribute__((noinline)) void *installtest_poller(void *arg)
{
	int fds[2];
	(void)arg;
	if (pipe(fds) != 0) {
		perror("prog: pipe");
		exit(1);
	}
	while (!atomic_load(&stop_work)) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (poll(&p, 1, 10) < 0 && errno == EINTR)
			atomic_fetch_add(&poll_eintr, 1);
	}
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

__attribute__((noinline)) static void work(void)
{
	pthread_t t[3];
	struct timespec ts = {0, 600 * 1000 * 1000};
	int i, rc;

	for (i = 0; i < 3; i++) {
		rc = pthread_create(&t[i], NULL,
		                    i == 2 ? installtest_poller
		                           : installtest_compute,
		                    (void *)(uintptr_t)(i + 1));
		if (rc) {
			fprintf(stderr, "prog: pthread_create: %d\n", rc);
			exit(1);
		}
	}
	nanosleep(&ts, NULL);
	atomic_store(&stop_work, 1);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	struct stillprof_options o;
	struct stillprof_stats st;
	stillprof_session *s;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: prog OUT.dump\n");
		return 1;
	}
	stillprof_options_init(&o); /* wall, 1000 us, raw */
	CHECK(stillprof_session_new(&o, &s));
	CHECK(stillprof_session_start(s));
	work(); /* every thread is sampled */
	CHECK(stillprof_session_stop(s));
	rc = stillprof_session_stop(s);
	if (rc != STILLPROF_ENOTRUNNING) {
		fprintf(stderr, "prog: second stop returned %d (%s), not "
		        "STILLPROF_ENOTRUNNING\n", rc, stillprof_strerror(rc));
		return 1;
	}
	CHECK(stillprof_session_stats(s, &st));
	CHECK(stillprof_session_write(s, argv[1], STILLPROF_FORMAT_STACKPROF));
	stillprof_session_free(s);
	printf("prog: %llu samples, %llu threads, back-end %s, %ld EINTR\n",
	       (unsigned long long)st.samples,
	       (unsigned long long)st.threads_seen,
	       st.backend ? st.backend : "(none)", atomic_load(&poll_eintr));
	if (st.samples == 0 || atomic_load(&poll_eintr) != 0)
		return 1;
	return 0;
}
EOF

# check_dump WHAT FILE: stackprof --text names the program's functions
check_dump() {
	if [ ! -s "$2" ]; then
		fail "$1: no dump written"
		return
	fi
	if ! command -v "$STACKPROF" >/dev/null 2>&1; then
		skip "$1: no $STACKPROF command to read the dump"
		return
	fi
	if ! timeout -k 5 $LIMIT "$STACKPROF" "$2" --text --limit 1000 \
		>"$T/text" 2>"$T/text.err"; then
		fail "$1: stackprof --text failed: $(head -c 300 "$T/text.err")"
		return
	fi
	_cw=$1
	shift 2
	_missing=
	for fn in "$@"; do
		grep -q -w -- "$fn" "$T/text" || _missing="$_missing $fn"
	done
	if [ -z "$_missing" ]; then
		pass "$_cw: stackprof --text shows $*"
	else
		fail "$_cw: stackprof --text lacks:$_missing"
		sed -n '1,20s/^/    /p' "$T/text"
	fi
}

# run_prog WHAT BINARY [ENV...]: run, check exit status and the dump
run_prog() {
	_what=$1 _bin=$2
	shift 2
	rm -f "$T/prog.dump"
	timeout -k 5 $LIMIT env "$@" "$_bin" "$T/prog.dump" >"$T/prog.out" 2>"$T/prog.err"
	_rc=$?
	if [ $_rc -eq 3 ]; then
		echo "SKIP: $(cat "$T/prog.err")"
		exit 77
	fi
	if [ $_rc -ne 0 ]; then
		fail "$_what: exit $_rc: $(cat "$T/prog.out" "$T/prog.err" | head -c 400)"
		return
	fi
	pass "$_what: $(cat "$T/prog.out")"
	check_dump "$_what" "$T/prog.dump" installtest_mix installtest_compute \
		installtest_poller poll
}

# shellcheck disable=SC2086 # flags are word lists
if timeout -k 5 $LIMIT "$CC" -Wall -Wextra -Werror -o "$T/prog" "$T/prog.c" \
	$cflags $libs -pthread >"$T/cc.log" 2>&1; then
	pass "cc prog.c \$(pkg-config --cflags --libs stillprof) -pthread"
	if readelf -d "$T/prog" 2>/dev/null | grep -q 'NEEDED.*libstillprof\.so'; then
		pass "prog is linked against libstillprof.so"
	else
		fail "prog does not need libstillprof.so"
	fi
	run_prog "prog (shared)" "$T/prog" LD_LIBRARY_PATH="$P/lib"
else
	fail "cc prog.c (shared) failed:"
	sed -n '1,20s/^/    /p' "$T/cc.log"
fi

# Static: the same flags with -lstillprof taken from libstillprof.a.
static_libs=
for w in $slibs; do
	case $w in
	-lstillprof) static_libs="$static_libs -Wl,-Bstatic -lstillprof -Wl,-Bdynamic" ;;
	*) static_libs="$static_libs $w" ;;
	esac
done
# shellcheck disable=SC2086
if timeout -k 5 $LIMIT "$CC" -Wall -Wextra -Werror -o "$T/prog_static" \
	"$T/prog.c" $cflags $static_libs -pthread >"$T/cc.log" 2>&1; then
	pass "cc prog.c with libstillprof.a and \$(pkg-config --static --libs stillprof)"
	if readelf -d "$T/prog_static" 2>/dev/null | grep -q 'NEEDED.*libstillprof'; then
		fail "prog_static still needs libstillprof.so"
	fi
	run_prog "prog (static)" "$T/prog_static"
else
	fail "cc prog.c (static) failed:"
	sed -n '1,20s/^/    /p' "$T/cc.log"
fi

# ---- the installed CLI finds the installed preload module ----
mkdir "$T/run"
(cd "$T/run" && exec timeout -k 5 $LIMIT env -u STILLPROF_PRELOAD_LIB \
	"$P/bin/stillprof" record --out "$T/run/cli.dump" -- "$DEMO" 1) \
	</dev/null >"$T/cli.out" 2>"$T/cli.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "back-end perf_event, written to $T/run/cli.dump" "$T/cli.err"; then
	pass "installed stillprof record -- demo 1: $(grep '^stillprof:' "$T/cli.err" | tail -n 1)"
	check_dump "installed CLI" "$T/run/cli.dump" hash_block
elif grep -q "cannot profile" "$T/cli.err"; then
	echo "SKIP: $(head -n 1 "$T/cli.err")"
	exit 77
else
	fail "installed stillprof record: exit $rc: $(head -c 400 "$T/cli.err")"
fi
# which module did the child load?
(cd "$T/run" && exec timeout -k 5 $LIMIT env -u STILLPROF_PRELOAD_LIB \
	"$P/bin/stillprof" record --out "$T/run/maps.dump" -- \
	sh -c 'grep -o "/.*libstillprof_preload\.so" /proc/$$/maps | sort -u') \
	</dev/null >"$T/maps.out" 2>"$T/maps.err"
loaded=$(cat "$T/maps.out")
if [ "$loaded" = "$P/lib/stillprof/libstillprof_preload.so" ]; then
	pass "installed CLI preloads $loaded"
else
	fail "installed CLI preloads '$loaded', expected $P/lib/stillprof/libstillprof_preload.so $(head -c 300 "$T/maps.err")"
fi

# ---- make uninstall ----
if timeout -k 10 300 "$MAKE" -C "$BUILDDIR" uninstall prefix="$P" \
	>"$T/uninstall.log" 2>&1; then
	left=$(find "$P" ! -type d | sed "s|^$P/||" | tr '\n' ' ')
	if [ -z "$left" ]; then
		pass "make uninstall removed every installed file"
	else
		fail "make uninstall left: $left"
	fi
else
	fail "make uninstall prefix=$P failed:"
	tail -n 20 "$T/uninstall.log" | sed 's/^/    /'
fi

finish
