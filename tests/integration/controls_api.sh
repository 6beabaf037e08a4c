#!/bin/sh
# controls_api.sh - every production control at once through the C API
# (controls_api.c), in periodic and in cumulative mode: exits 0 after 4
# snapshot calls (refused in periodic mode, written in cumulative mode)
# and 5 control signals (blocked before the first thread: nothing dies);
# periodic keeps exactly 2 files, cumulative writes signal dumps, all
# decodable by `go tool pprof` with the busy function; the local receiver
# gets decodable pushes; a pull during the run returns a profile.
# Exit 0 pass, 1 fail, 77 skip (no perf, python3, curl or go), 99 setup.

. "$(dirname "$0")/controls_lib.sh"
for c in curl python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: no $c"; exit 77; }
done
have_go || { echo "SKIP: no go tool pprof"; exit 77; }
API=$BUILDDIR/tests/integration/controls_api
[ -x "$API" ] || { echo "ERROR: $API is not built"; exit 99; }

# run MODE DIR: the program in MODE, a pull during the run; sets status.
run() {
	mode=$1 d=$2
	hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$d" "$d/recv"
	timeout 150 python3 "$SRCDIR/tests/integration/ingest_receiver.py" \
		"$d/recv" 2>"$d/recv.err" &
	PIDS="$PIDS $!"
	wait_for test -s "$d/recv/port" ||
		{ echo "ERROR: receiver did not start"; exit 99; }
	timeout 90 "$API" "$mode" "$d/p-%t.pb.gz" \
		"http://127.0.0.1:$(cat "$d/recv/port")/ingest" \
		"127.0.0.1:$hport" "$d/snap.folded" >"$d/out" 2>"$d/err" &
	pid=$!
	PIDS="$PIDS $pid"
	if ! wait_for grep -q running "$d/out" 2>/dev/null; then
		wait $pid
		[ $? = 77 ] && { echo "SKIP: $(cat "$d/err")"; exit 77; }
		echo "ERROR: did not start: $(cat "$d/err")"
		exit 99
	fi
	curl -s --max-time 20 -o "$d/pull.pb.gz" -w '%{http_code}' \
		"http://127.0.0.1:$hport/debug/pprof/profile?seconds=1" \
		>"$d/code"
	wait $pid
	status=$?
	[ "$status" = 0 ] || fail "$mode: exit $status: $(cat "$d/out" "$d/err")"
	[ "$(cat "$d/code")" = 200 ] || fail "$mode: pull: HTTP $(cat "$d/code")"
	pprof -raw "$d/pull.pb.gz" 2>/dev/null | grep -q api_busy ||
		fail "$mode: pull: no api_busy"
	for f in $(ls "$d" | grep '^p-.*\.pb\.gz$'); do
		pprof -raw "$d/$f" 2>/dev/null | grep -q api_busy ||
			fail "$mode: $f: no api_busy"
	done
	b=$(ls "$d/recv" | grep -c '^[0-9]*\.body$')
	[ "$b" -ge 3 ] || fail "$mode: only $b pushes received"
	pprof -raw "$d/recv/1.body" 2>/dev/null | grep -q api_busy ||
		fail "$mode: push: no api_busy in the first body"
	echo "$mode: $(ls "$d" | grep -c '^p-.*\.pb\.gz$') files, $b pushes, $(tail -1 "$d/out")"
}

# periods, keep=2: the signal ends a period early; no cumulative snapshot
run periodic "$T/periodic"
n=$(ls "$T/periodic" | grep -c '^p-.*\.pb\.gz$')
[ "$n" = 2 ] || fail "periodic: keep=2 but $n files"
[ -e "$T/periodic/snap.folded" ] && fail "periodic: a cumulative snapshot"

# cumulative: snapshots and signal dumps of the whole profile so far
run cumulative "$T/cumulative"
grep -q api_busy "$T/cumulative/snap.folded" 2>/dev/null ||
	fail "cumulative: snapshot has no api_busy"
n=$(ls "$T/cumulative" | grep -c '^p-.*\.pb\.gz$')
[ "$n" -ge 3 ] || fail "cumulative: $n signal dumps (5 signals sent)"

finish "all controls together through the C API"
