#!/bin/sh
# push_ingest.sh - STILLPROF_PUSH_URL against a local Pyroscope-style
# receiver (ingest_receiver.py on 127.0.0.1, started and killed by pid):
# each period is POSTed to /ingest with name=APP{labels}, from/until,
# format=pprof and sampleRate; `go tool pprof -raw` decodes every body and
# finds the busy function and samples; a receiver answering 503 gets the
# same period again (bounded retry); a dead receiver neither blocks nor
# kills the program, which exits promptly.
# Exit 0 pass, 1 fail, 77 skip (no perf, python3 or go), 99 setup error.

. "$(dirname "$0")/controls_lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
have_go || { echo "SKIP: no go tool pprof"; exit 77; }
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }
RECEIVER=$SRCDIR/tests/integration/ingest_receiver.py

# start_receiver DIR [--fail-first K]: sets RPORT.
start_receiver() {
	mkdir -p "$1"
	timeout 150 python3 "$RECEIVER" "$@" 2>"$1/receiver.err" &
	PIDS="$PIDS $!"
	wait_for test -s "$1/port" || { echo "ERROR: receiver did not start"; exit 99; }
	RPORT=$(cat "$1/port")
}

# ---- two periods pushed and decoded ----
r=$T/recv
start_receiver "$r"
d=$T/app
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/p-%t.pb.gz" \
	STILLPROF_PUSH_URL="http://127.0.0.1:$RPORT/ingest" \
	STILLPROF_APP=ctltest STILLPROF_LABELS="env=ci,host=a b" ||
	{ echo "ERROR: no start"; exit 99; }
wait_for test -s "$r/2.body" || fail "fewer than 2 pushes in 20 s"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "exit status $APP_STATUS"
q=$(cat "$r/1.query")
echo "query: $q"
case $q in
*name=ctltest%7Benv%3Dci%2Chost%3Da%20b%7D*) ;;
*) fail "name/labels not in the query: $q" ;;
esac
for k in format=pprof sampleRate=1000 spyName=stillprof; do
	case "&$q&" in *"&$k&"*) ;; *) fail "no $k in: $q" ;; esac
done
from=$(echo "$q" | sed -n 's/.*from=\([0-9]*\).*/\1/p')
until=$(echo "$q" | sed -n 's/.*until=\([0-9]*\).*/\1/p')
now=$(date +%s)
[ -n "$from" ] && [ -n "$until" ] && [ "$from" -le "$until" ] &&
	[ "$until" -le $((now + 1)) ] && [ "$from" -ge $((now - 100)) ] ||
	fail "from=$from until=$until (now $now)"
for b in "$r"/[0-9]*.body; do
	if pprof -raw "$b" >"$b.raw" 2>"$b.err"; then
		grep -q 'controls_busy' "$b.raw" || fail "$b: no controls_busy"
		n=$(awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 }
			s && /^ +[0-9]+ +[0-9]+:/ { c += $1 } END { print c + 0 }' "$b.raw")
		[ "$n" -gt 0 ] || fail "$b: no samples"
	else
		fail "pprof -raw $b: $(head -c 300 "$b.err")"
	fi
done
echo "pushes received: $(ls "$r" | grep -c '^[0-9]*\.body$')"

# ---- 503 then success: the same period is sent again ----
r=$T/retry
start_receiver "$r" --fail-first 1
d=$T/app2
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/p-%t.folded" \
	STILLPROF_PUSH_URL="http://127.0.0.1:$RPORT/ingest" ||
	{ echo "ERROR: no start"; exit 99; }
wait_for test -s "$r/1.body" || fail "retry: nothing accepted"
stop_app "$d"
[ -s "$r/failed-1.body" ] || fail "retry: no failed first attempt"
cmp -s "$r/failed-1.query" "$r/1.query" ||
	fail "retry: the retried query differs: $(cat "$r/failed-1.query") / $(cat "$r/1.query")"
cmp -s "$r/failed-1.body" "$r/1.body" || fail "retry: the body differs"

# ---- nobody listening: the program runs and exits normally ----
d=$T/dead
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/p-%t.folded" \
	STILLPROF_PUSH_URL="http://127.0.0.1:1/ingest" ||
	{ echo "ERROR: no start"; exit 99; }
sleep 2.5
kill -0 "$TARGET_PID" || fail "dead receiver: the program died"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "dead receiver: exit $APP_STATUS"
[ "$(ls "$d" | grep -c '^p-.*folded$')" -ge 2 ] ||
	fail "dead receiver: the period files were not written"

# ---- bad URL ----
d=$T/bad
start_app "$d" STILLPROF_PUSH_URL="https://example.invalid/ingest" ||
	fail "bad url: the program did not run"
stop_app "$d"
grep -q 'not profiling: STILLPROF_PUSH_URL' "$d/stderr" ||
	fail "bad url: $(cat "$d/stderr")"

finish "push: Pyroscope /ingest, decoded by go tool pprof, retry, dead receiver"
