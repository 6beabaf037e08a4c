#!/bin/sh
# continuous.sh - STILLPROF_PERIOD writes one profile per period named by
# the %p/%t pattern: with STILLPROF_KEEP unset every period file stays and
# together they hold every sample the run recorded (their sum equals the
# summary's count: nothing lost, nothing twice); with STILLPROF_KEEP=2
# only the last two remain; a pattern without %t gets one.
# Exit 0 pass, 1 fail, 77 skip (no perf), 99 setup error.

. "$(dirname "$0")/controls_lib.sh"
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }

count() { ls "$1" | grep -c "$2"; }

# ---- every period kept; the files add up to the whole run ----
d=$T/all
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/p-%p-%t.folded" \
	STILLPROF_SUMMARY="$d/summary" || { echo "ERROR: no start"; exit 99; }
pid=$TARGET_PID
wait_for sh -c "[ \$(ls '$d' | grep -c '^p-$pid-.*folded\$') -ge 3 ]" ||
	fail "fewer than 3 period files after 20 s"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "exit status $APP_STATUS"
files=$(ls "$d" | grep "^p-$pid-[0-9]\{8\}T[0-9]\{6\}\.[0-9]\{3\}Z\.folded\$")
[ "$(echo "$files" | wc -l)" -ge 4 ] || fail "period files: $files"
total=0
for f in $files; do
	total=$((total + $(folded_total "$d/$f")))
done
recorded=$(sed -n 's/^samples=//p' "$d/summary")
echo "periods: $(echo "$files" | wc -l) files, $total samples; summary says $recorded"
[ "$total" -gt 100 ] || fail "only $total samples in the period files"
[ "$total" = "$recorded" ] || fail "files hold $total samples, the run recorded $recorded"
grep -q controls_busy "$d/$(echo "$files" | head -1)" ||
	fail "first period has no controls_busy"
[ -e "$d/stillprof-$pid.folded" ] && fail "an exit dump was written too"

# ---- keep the last 2; %t added to a pattern without it ----
d=$T/keep
mkdir -p "$d"
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_KEEP=2 STILLPROF_OUT="$d/q.folded" ||
	{ echo "ERROR: no start"; exit 99; }
wait_for sh -c "[ -n \"\$(ls '$d' | grep '^q-.*folded\$')\" ]" ||
	fail "keep: no first file"
first=$(ls "$d" | grep '^q-.*folded$' | head -1)
wait_for sh -c "[ \$(ls '$d' | grep -c '^q-.*folded\$') -ge 2 ]" ||
	fail "keep: no second file"
sleep 2.2
stop_app "$d"
n=$(count "$d" '^q-.*folded$')
[ "$n" = 2 ] || fail "keep=2: $n files: $(ls "$d")"
[ -e "$d/$first" ] && fail "keep=2: the first file was not removed"

# ---- bad values ----
d=$T/bad
start_app "$d" STILLPROF_PERIOD=soon STILLPROF_OUT="$d/x.folded" ||
	fail "bad period: the program did not run"
stop_app "$d"
grep -q 'not profiling: STILLPROF_PERIOD="soon"' "$d/stderr" ||
	fail "bad period: $(cat "$d/stderr")"
d=$T/bad2
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/x-%q.folded" ||
	fail "bad pattern: the program did not run"
stop_app "$d"
grep -q 'not profiling: STILLPROF_OUT' "$d/stderr" ||
	fail "bad pattern: $(cat "$d/stderr")"

finish "continuous: periods add up, keep, %p/%t"
