#!/bin/sh
# mysql_connect_storm.sh - a real MariaDB server counts no handshake errors
# and blocks no host while stillprof samples a client that, like
# libmysqlclient 5.x, treats EINTR as a failed connection.
#
# The script starts its own mariadbd on 127.0.0.1 (private datadir, TLS with
# a throwaway CA, max_connect_errors=10, host cache on), creates a user, then:
# (a) baseline, one process, 4 threads, process-wide SIGALRM every 1 ms:
#     client failures > 0 and server handshake errors > 0;
# (b) baseline as in the incident, 4 processes with a timer each: also
#     "host blocked" (error 1129), reported, not required;
# (c) the same client (4 threads) under stillprof record --mode wall
#     --interval 1000: all connections succeed, 0 failures, 0 handshake
#     errors, no host blocked, and the dump reads in the stackprof CLI.
#
# MariaDB keeps no host cache entry for a client at exactly 127.0.0.1
# (sql/hostname.cc: is_ip_loopback()), so the client binds its side to
# 127.0.0.2 (STORM_SOURCE_IP); nothing listens anywhere but 127.0.0.1.
#
# Environment: BUILDDIR (default: .) is where the binaries were built;
# MYSQL_CONNECT_STORM and STILLPROF override the paths of the two binaries.
# Exit: 0 pass, 1 fail, 77 skip (prerequisite missing), 99 harness error.

BUILDDIR=${BUILDDIR:-.}
here=$(dirname "$0")
SOURCE_IP=${STORM_SOURCE_IP:-127.0.0.2}
THREADS=4
COUNT=300		# per thread: 1200 connections, as in DESIGN.md

pick() {
	# pick() PATH...: print the first executable PATH.
	for p in "$@"; do
		if [ -x "$p" ] && [ ! -d "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

MYSQL_CONNECT_STORM=${MYSQL_CONNECT_STORM:-$(pick \
	"$BUILDDIR/mysql_connect_storm" \
	"$BUILDDIR/tests/integration/mysql_connect_storm" \
	"$here/mysql_connect_storm")}
STILLPROF=${STILLPROF:-$(pick "$BUILDDIR/stillprof" \
	"$BUILDDIR/profiler/stillprof" "$here/../../stillprof" \
	"$here/../../profiler/stillprof")}

n_fail=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
note() { echo "NOTE: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "ERROR: $*"; exit 99; }

# Every command runs under a deadline, so the test always ends.
bounded() {
	secs=$1
	shift
	timeout -k 5 "$secs" "$@"
}

if [ -z "$MYSQL_CONNECT_STORM" ] || [ ! -x "$MYSQL_CONNECT_STORM" ]; then
	die "mysql_connect_storm not found (set BUILDDIR or" \
	    "MYSQL_CONNECT_STORM)"
fi
# shellcheck source=tests/integration/mariadb_lib.sh
. "$here/mariadb_lib.sh"
mariadb_need_tools

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stillprof-storm.XXXXXX") || exit 99

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	mariadb_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- the server ---------------------------------------------------------------

mariadb_setup
mariadb_start
PASSWORD="storm-$$"
mariadb_storm_user "$PASSWORD"

storm() {
	# storm OUT [ARGS...]: run the client, its output into OUT.
	out=$1
	shift
	bounded 180 "$@" --port "$PORT" --source "$SOURCE_IP" \
		--user storm --password "$PASSWORD" --max-seconds 120 \
		>"$out" 2>"$out.err"
}

# result KEY FILE: the number after KEY on the first line holding KEY.
result() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) {
		print $(i + 1); exit } }' "$2"
}

aborted_connects() {
	sql "SHOW GLOBAL STATUS LIKE 'Aborted_connects'" | awk '{ print $2 }'
}

# reset_hosts: empty the host cache, then let one clean connection put the
# client address back in, so a slow reverse lookup cannot fall inside a
# measured run.  Returns 1 when the address is not in the cache afterwards
# (its lookup failed transiently: the server then counts nothing for it).
reset_hosts() {
	sql "FLUSH HOSTS" || die "FLUSH HOSTS failed"
	storm "$TMP/warmup.out" "$MYSQL_CONNECT_STORM" --threads 1 \
		--count 1 --timeout 30000
	if [ "$(result connects_ok "$TMP/warmup.out")" != 1 ]; then
		cat "$TMP/warmup.out" "$TMP/warmup.out.err"
		if grep -q 'bind' "$TMP/warmup.out.err"; then
			skip "cannot bind $SOURCE_IP (set STORM_SOURCE_IP)"
		fi
		die "a plain connection to the server failed"
	fi
	[ -n "$(sql "SELECT IP FROM performance_schema.host_cache
		     WHERE IP = '$SOURCE_IP' AND HOST_VALIDATED = 'YES'")" ]
}

if ! reset_hosts; then
	skip "the server's reverse lookup of $SOURCE_IP fails transiently" \
	     "(DNS unreachable?), so its host cache counts no errors"
fi

# show_run LABEL OUT: print a client run's numbers.
show_run() {
	sed "s/^/  $1: /" "$2"
	head -5 "$2.err" | sed "s/^/  $1 stderr: /"
}

# ---- (a) baseline: one process, 4 threads, process-wide SIGALRM ------------

storm "$TMP/base.out" "$MYSQL_CONNECT_STORM" --threads $THREADS \
	--count $COUNT --sigalrm 1000
rc=$?
show_run baseline "$TMP/base.out"
# shellcheck disable=SC2046 # four numbers
set -- $(host_errors "$SOURCE_IP")
echo "  baseline server: connect_errors $1 handshake_errors $2" \
     "ssl_errors $3 host_blocked_errors $4"
failures=$(result failures "$TMP/base.out")
if [ $rc -eq 0 ] && [ "${failures:-0}" -gt 0 ] && [ $(($2 + $3)) -gt 0 ]
then
	pass "baseline SIGALRM 1000us, $THREADS threads: failures $failures," \
	     "server handshake errors $(($2 + $3)) (the test can fail)"
else
	fail "baseline SIGALRM 1000us: failures ${failures:-?}, server" \
	     "handshake errors $(($2 + $3)), exit $rc; expected > 0"
fi

# ---- (b) the incident: 4 processes, each with its own timer -----------------

reset_hosts || die "host cache lost $SOURCE_IP"
storm "$TMP/incident.out" "$MYSQL_CONNECT_STORM" --processes $THREADS \
	--threads 1 --count $COUNT --sigalrm 1000
rc=$?
show_run incident "$TMP/incident.out"
# shellcheck disable=SC2046 # four numbers
set -- $(host_errors "$SOURCE_IP")
echo "  incident server: connect_errors $1 handshake_errors $2" \
     "ssl_errors $3 host_blocked_errors $4"
failures=$(result failures "$TMP/incident.out")
blocked=$(result host_blocked "$TMP/incident.out")
if [ $rc -eq 0 ] && [ "${failures:-0}" -gt 0 ] && [ $(($2 + $3)) -gt 0 ]
then
	pass "baseline SIGALRM 1000us, $THREADS processes: failures" \
	     "$failures, handshake errors $(($2 + $3)), host blocked" \
	     "${blocked:-?}"
else
	fail "baseline SIGALRM 1000us, $THREADS processes: failures" \
	     "${failures:-?}, handshake errors $(($2 + $3)), exit $rc"
fi
# Blocking needs max_connect_errors failures in a row with no success in
# between: near certain on the 2-vCPU VM where it was measured, less so
# where a TLS connection takes well under the 1 ms interval.
[ "${blocked:-0}" -gt 0 ] ||
	note "the incident baseline did not get the host blocked this time"

# ---- (c) under stillprof ------------------------------------------------------

if [ -z "$STILLPROF" ] || [ ! -x "$STILLPROF" ]; then
	[ "$n_fail" -eq 0 ] || exit 1
	skip "stillprof CLI not found (set BUILDDIR or STILLPROF);" \
	     "baselines only"
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 0)
if [ "$paranoid" -gt 2 ] && [ "$(id -u)" -ne 0 ]; then
	[ "$n_fail" -eq 0 ] || exit 1
	skip "perf_event_paranoid=$paranoid > 2: perf_event_open denied"
fi

reset_hosts || die "host cache lost $SOURCE_IP"
aborted_before=$(aborted_connects)
DUMP=$TMP/storm.dump
storm "$TMP/wall.out" "$STILLPROF" record --mode wall --interval 1000 \
	--out "$DUMP" -- "$MYSQL_CONNECT_STORM" --threads $THREADS \
	--count $COUNT
rc=$?
show_run stillprof "$TMP/wall.out"
# shellcheck disable=SC2046 # four numbers
set -- $(host_errors "$SOURCE_IP")
aborted=$(($(aborted_connects) - aborted_before))
echo "  stillprof server: connect_errors $1 handshake_errors $2" \
     "ssl_errors $3 host_blocked_errors $4 aborted_connects +$aborted"
ok=$(result connects_ok "$TMP/wall.out")
failures=$(result failures "$TMP/wall.out")
blocked=$(result host_blocked "$TMP/wall.out")
errors=$(result errors "$TMP/wall.out")
want=$((THREADS * COUNT))
if [ $rc -eq 0 ] && [ "$ok" = "$want" ] && [ "$failures" = 0 ] &&
   [ "$blocked" = 0 ] && [ "$errors" = 0 ]; then
	pass "stillprof wall 1000us: connects_ok $ok/$want, failures 0," \
	     "host_blocked 0, exit 0"
else
	fail "stillprof wall 1000us: connects_ok ${ok:-?}/$want, failures" \
	     "${failures:-?}, host_blocked ${blocked:-?}, errors" \
	     "${errors:-?}, exit $rc"
fi
if [ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = 0 ] && [ "$4" = 0 ] &&
   [ "$aborted" -eq 0 ]; then
	pass "stillprof wall 1000us: server counted 0 handshake errors," \
	     "0 aborted connects, host not blocked"
else
	fail "stillprof wall 1000us: server counted errors (see above)"
fi

# ---- the dump -------------------------------------------------------------------

if ! command -v stackprof >/dev/null 2>&1 ||
   ! command -v ruby >/dev/null 2>&1; then
	note "stackprof CLI or ruby not installed (ruby-stackprof):" \
	     "dump not checked"
elif [ ! -s "$DUMP" ]; then
	fail "stillprof wrote no dump"
elif bounded 60 stackprof "$DUMP" --text --sort-total --limit 200 \
	>"$DUMP.txt" 2>"$DUMP.err"; then
	pass "dump: stackprof --text reads it" \
	     "($(grep -m1 'Samples:' "$DUMP.txt" | tr -s ' ' | sed 's/^ //'))"
	if grep -q '[[:space:]]storm_wait$' "$DUMP.txt"; then
		pass "dump: the client's poll() waits (storm_wait) are in it"
	else
		head -40 "$DUMP.txt" | sed 's/^/  text: /'
		fail "dump: no storm_wait frame"
	fi
	# shellcheck disable=SC2046 # one argument per thread name
	if bounded 60 ruby -e '
		d = Marshal.load(File.binread(ARGV.shift))
		th = (d[:metadata] || {})[:threads] || []
		bad = 0
		ARGV.each do |name|
		  t = th.find { |x| x[:name] == name }
		  n = t ? t[:samples].to_i : 0
		  printf("  thread %-8s samples %d\n", name, n)
		  bad += 1 if n <= 0
		end
		exit(bad == 0 ? 0 : 1)
	' "$DUMP" $(i=0; while [ $i -lt $THREADS ]; do
		echo "storm-$i"; i=$((i + 1)); done); then
		pass "dump: every client thread has samples"
	else
		fail "dump: a client thread is missing from metadata :threads"
	fi
	if bounded 300 sh "$here/stackprof_cli.sh" "$DUMP" storm_wait \
		>"$DUMP.cli" 2>&1; then
		pass "dump: every stackprof CLI format reads it"
	else
		sed 's/^/  cli: /' "$DUMP.cli" | tail -20
		fail "dump: a stackprof CLI format failed"
	fi
else
	sed 's/^/  stackprof: /' "$DUMP.err" | head -20
	fail "dump: stackprof --text failed"
fi

if [ "$n_fail" -eq 0 ]; then
	echo "PASS: mysql_connect_storm"
	exit 0
fi
echo "FAIL: mysql_connect_storm ($n_fail checks failed)"
exit 1
