#!/bin/sh
# ruby_mysql2_storm.sh - Ruby + mysql2 under a wall-mode profile at 1 ms:
# stillprof gives 0 EINTR, 0 connection errors and 0 handshake errors in
# the server's host cache; the real stackprof gem (SIGALRM) is run on the
# same script and its figures printed (EINTR > 0 expected, not required).
#
# The script starts its own mariadbd on 127.0.0.1 (private datadir, TLS
# with a throwaway CA, max_connect_errors=10, host cache on: mariadb_lib.sh,
# shared with mysql_connect_storm.sh) and stops it by pid.  An LD_PRELOAD shim
# (tests/ruby/storm/eintr_count.c, compiled here) counts EINTR returns of
# poll/ppoll/select/pselect/connect/recv/recvfrom/read in the Ruby process
# and binds the client side to 127.0.0.2, so the host cache sees it.
# Exit: 0 pass, 1 fail, 77 skip, 99 harness error.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SOURCE_IP=${STORM_SOURCE_IP:-127.0.0.2}
n_fail=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "ERROR: $*"; exit 99; }
bounded() { secs=$1; shift; timeout -k 5 "$secs" "$@"; }

# shellcheck source=tests/integration/mariadb_lib.sh
. "$SRCDIR/tests/integration/mariadb_lib.sh"
command -v ruby >/dev/null 2>&1 || skip "ruby not installed"
mariadb_need_tools
ruby -rmysql2 -e1 2>/dev/null || skip "ruby-mysql2 not installed"
ruby -rmkmf -e 'exit(File.exist?(File.join(RbConfig::CONFIG["rubyhdrdir"], "ruby.h")))' \
	2>/dev/null || skip "ruby-dev not installed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stillprof-rstorm.XXXXXX") || exit 99
cleanup() { mariadb_stop; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the extension and the shim ---
STILLPROF_RUBY_BUILD=$TMP/ext STILLPROF_RUBY_LIBOUT=$TMP/lib \
	sh "$SRCDIR/bindings/ruby/build.sh" >/dev/null || die "gem build failed"
${CC:-cc} -O2 -shared -fPIC -o "$TMP/eintr_count.so" \
	"$SRCDIR/tests/ruby/storm/eintr_count.c" -ldl || die "shim build failed"

# --- the server ---
mariadb_setup
mariadb_start
PASSWORD="storm-$$"
mariadb_storm_user "$PASSWORD"

# run PROFILER: one storm; prints its figures into $TMP/PROFILER.out
run() {
	sql "FLUSH HOSTS" >/dev/null
	RUBYLIB="$TMP/lib:$SRCDIR/bindings/ruby/lib" \
	STORM_PORT=$PORT STORM_PASSWORD=$PASSWORD STORM_CA=$TMP/ca.pem \
	STORM_THREADS=3 STORM_COUNT=100 STORM_BIND_IP=$SOURCE_IP \
	EINTR_COUNT_OUT=$TMP/$1.eintr LD_PRELOAD=$TMP/eintr_count.so \
		bounded 300 $STRACE ruby "$SRCDIR/tests/ruby/storm/storm.rb" "$1" \
		>"$TMP/$1.out" 2>"$TMP/$1.err"
	restarts=n/a
	[ -n "$STRACE" ] && restarts=$(grep -c 'EINTR\|ERESTART' "$TMP/strace")
	echo "  $1: $(cat "$TMP/$1.out") $(cat "$TMP/$1.eintr" 2>/dev/null)" \
	     "strace_interrupted $restarts" \
	     "host_cache(connect handshake ssl blocked)" \
	     "$(host_errors "$SOURCE_IP" | tr '\t' ' ')"
	head -3 "$TMP/$1.err" | sed "s/^/  $1 stderr: /"
}

# strace also sees the calls the kernel restarts (ERESTART*), which the
# shim cannot: both count interrupted calls, the shim only those that
# reached the application.
STRACE=
command -v strace >/dev/null 2>&1 &&
	STRACE="strace -f -qq -o $TMP/strace -e trace=poll,ppoll,select,pselect6,connect,recvfrom,read,nanosleep,clock_nanosleep"

val() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$2"; }

run stillprof | tee "$TMP/stillprof.line"
seen=$(sql "SELECT COUNT(*) FROM performance_schema.host_cache WHERE IP = '$SOURCE_IP'")
ok=$(val connects_ok "$TMP/stillprof.out")
errs=$(val connect_errors "$TMP/stillprof.out")
eintr=$(val eintr_total "$TMP/stillprof.eintr")
samples=$(val samples "$TMP/stillprof.out")
set -- $(host_errors "$SOURCE_IP")
if [ "$ok" = 300 ] && [ "$errs" = 0 ]; then
	pass "stillprof: 300/300 TLS connections, 0 client errors"
else
	fail "stillprof: connects_ok=$ok errors=$errs"
fi
interrupted=$(val strace_interrupted "$TMP/stillprof.line")
if [ "$eintr" = 0 ] && { [ "$interrupted" = 0 ] || [ "$interrupted" = n/a ]; }; then
	pass "stillprof: 0 EINTR in poll/ppoll/select/connect/recv/read"
else
	fail "stillprof: $eintr EINTR, $interrupted interrupted calls (strace)"
fi
if [ "$seen" = 0 ]; then
	echo "NOTE: $SOURCE_IP not in the host cache (reverse lookup failed?):" \
	     "handshake errors not checked"
elif [ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = 0 ] && [ "$4" = 0 ]; then
	pass "stillprof: 0 connect/handshake/TLS/blocked errors in host_cache"
else
	fail "stillprof: host_cache errors $*"
fi
[ "${samples:-0}" -gt 0 ] && pass "stillprof: $samples samples" ||
	fail "stillprof recorded no sample"

if ruby -rstackprof -e1 2>/dev/null; then
	run stackprof | tee "$TMP/stackprof.line"
	echo "NOTE: real stackprof (SIGALRM, wall 1 ms): EINTR $(val eintr_total "$TMP/stackprof.eintr")," \
	     "interrupted calls (strace) $(val strace_interrupted "$TMP/stackprof.line")," \
	     "connects_ok $(val connects_ok "$TMP/stackprof.out")," \
	     "errors $(val connect_errors "$TMP/stackprof.out")"
fi
[ "$n_fail" = 0 ] || exit 1
exit 0
