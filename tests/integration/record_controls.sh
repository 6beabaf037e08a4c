#!/bin/sh
# record_controls.sh - the production controls through `stillprof record`
# flags: bad values of --period, --keep, --control-signal,
# --signal-action, --push-url, --labels, --max-threads and a flag without
# its value are refused before COMMAND runs (exit 2, a message naming the
# flag, COMMAND not run); --period/--keep write periodic files and keep
# the last K; --control-signal SIGUSR2 makes the program dump now;
# --http serves /debug/pprof/profile; --backend signal --signal SIG is the
# sampling signal only (it used to be taken as the control signal too and
# the program ran unprofiled).
# Exit 0 pass, 1 fail, 77 skip (no perf), 99 setup.

. "$(dirname "$0")/controls_lib.sh"
STILLPROF=${STILLPROF:-$BUILDDIR/stillprof}
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }

# rec_bg DIR FLAGS...: stillprof record FLAGS -- controls_app DIR, in the
# background; TARGET_PID is the program (from DIR/ready).
rec_bg() {
	dir=$1
	shift
	mkdir -p "$dir"
	timeout 90 "$STILLPROF" record "$@" -- "$APP" "$dir" \
		>"$dir/stdout" 2>"$dir/stderr" &
	APP_PID=$!
	PIDS="$PIDS $APP_PID"
	wait_for test -s "$dir/ready" || return 1
	TARGET_PID=$(cat "$dir/ready")
	PIDS="$PIDS $TARGET_PID"
}

# ---- bad values: refused before COMMAND runs ----
b=$T/bad
mkdir -p "$b"
bad() {
	want=$1
	shift
	rm -f "$b/ran"
	timeout 30 "$STILLPROF" record --out "$b/x.folded" "$@" -- \
		touch "$b/ran" 2>"$b/err"
	rc=$?
	[ $rc = 2 ] || fail "$*: exit $rc, expected 2"
	grep -q -- "$want" "$b/err" || fail "$*: no '$want' in: $(cat "$b/err")"
	[ -e "$b/ran" ] && fail "$*: COMMAND ran"
	[ -e "$b/x.folded" ] && fail "$*: output written"
}
bad '^stillprof: --period: STILLPROF_PERIOD="soon"' --period soon
bad '^stillprof: --period: STILLPROF_PERIOD="90000"' --period 90000
bad '^stillprof: --keep: STILLPROF_KEEP="-1"' --period 1 --keep -1
bad '^stillprof: --control-signal: STILLPROF_CONTROL_SIGNAL="SIGKILL"' \
	--control-signal SIGKILL
bad '^stillprof: --signal-action: STILLPROF_SIGNAL_ACTION="restart"' \
	--control-signal SIGUSR2 --signal-action restart
bad '^stillprof: --push-url: .*local agent' --push-url https://x/ingest
bad '^stillprof: --labels: ' --push-url http://127.0.0.1:1/ingest --labels 'a=}'
bad '^stillprof: --max-threads: ' --max-threads many
bad '^stillprof: --period needs a value' --period

# ---- --period / --keep ----
d=$T/period
rec_bg "$d" --period 1 --keep 2 --out "$d/p-%t.folded" ||
	{ echo "ERROR: no start: $(cat "$d/stderr")"; exit 99; }
wait_for sh -c "[ \$(ls '$d' | grep -c '^p-.*folded\$') -ge 2 ]" ||
	fail "--period 1: fewer than 2 files in 20 s"
sleep 1.2
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "--period: exit status $APP_STATUS"
n=$(ls "$d" | grep -c '^p-.*folded$')
[ "$n" = 2 ] || fail "--keep 2: $n files: $(ls "$d")"
grep -q "a file every 1 s" "$d/stderr" ||
	fail "--period: summary: $(cat "$d/stderr")"
for f in "$d"/p-*.folded; do
	grep -q controls_busy "$f" || fail "$f: no controls_busy"
done

# ---- --control-signal ----
d=$T/signal
rec_bg "$d" --control-signal SIGUSR2 --out "$d/s-%t.folded" ||
	{ echo "ERROR: no start: $(cat "$d/stderr")"; exit 99; }
sleep 0.3
kill -USR2 "$TARGET_PID"
wait_for sh -c "ls '$d' | grep -q '^s-.*folded\$'" ||
	fail "--control-signal: no dump after USR2"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "--control-signal: exit status $APP_STATUS"

# ---- --http ----
if command -v curl >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	d=$T/http
	rec_bg "$d" --http "127.0.0.1:$port" --out "$d/h.folded" ||
		{ echo "ERROR: no start: $(cat "$d/stderr")"; exit 99; }
	code=$(curl -s -o "$d/prof.pb.gz" -w '%{http_code}' --max-time 20 \
		"http://127.0.0.1:$port/debug/pprof/profile?seconds=1")
	[ "$code" = 200 ] || fail "--http: status $code"
	gzip -t "$d/prof.pb.gz" 2>/dev/null || fail "--http: not gzip"
	stop_app "$d"
	[ "$APP_STATUS" = 0 ] || fail "--http: exit status $APP_STATUS"
fi

# ---- the signal back-end's --signal is not a control signal ----
d=$T/sigbe
if rec_bg "$d" --backend signal --signal SIGRTMIN+4 --out "$d/o.folded"; then
	sleep 0.5
	stop_app "$d"
	[ "$APP_STATUS" = 0 ] || fail "--backend signal: exit $APP_STATUS"
	grep -q controls_busy "$d/o.folded" 2>/dev/null ||
		fail "--backend signal --signal: no profile: $(cat "$d/stderr")"
	grep -q "not profiling" "$d/stderr" && fail "--signal: $(cat "$d/stderr")"
elif grep -q "cannot profile" "$d/stderr"; then
	echo "signal back-end unusable here: $(cat "$d/stderr")"
else
	fail "--backend signal --signal: $(cat "$d/stderr")"
fi

finish record_controls
