#!/bin/sh
# control_signal.sh - STILLPROF_CONTROL_SIGNAL under LD_PRELOAD: kill -USR2 from
# outside makes the profiled program write a dump now (the cumulative
# profile so far, named by %t), repeatedly, while it keeps creating threads
# (each inherits the blocked signal: none dies of it, exit status 0);
# a thread that unblocks it anyway is not killed, a forked child gets it
# back; STILLPROF_SIGNAL_ACTION=toggle pauses recording (far fewer samples than
# the run's length gives); bad values are refused with a message and the
# program still runs.  Exit 0 pass, 1 fail, 77 skip (no perf), 99 setup.

. "$(dirname "$0")/controls_lib.sh"
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }

# ---- dump on USR2 ----
d=$T/dump
start_app "$d" STILLPROF_CONTROL_SIGNAL=SIGUSR2 STILLPROF_OUT="$d/prof-%t.folded" ||
	{ echo "ERROR: app did not start"; exit 99; }
n_before=$(ls "$d" | grep -c '^prof-')
for k in 1 2 3; do
	sleep 0.3
	kill -USR2 "$TARGET_PID"
	# one more file per signal (distinct %t to the millisecond)
	wait_for sh -c "[ \$(ls '$d' | grep -c '^prof-.*folded\$') -ge $((n_before + k)) ]" ||
		fail "no dump after signal $k"
done
kill -0 "$TARGET_PID" 2>/dev/null || fail "the program died of the signal"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "exit status $APP_STATUS (140 = killed by USR2)"
[ "$(cat "$d/done" 2>/dev/null)" -gt 20 ] 2>/dev/null ||
	fail "the program created no threads after start"
grep -q . "$d/stderr" && fail "stderr: $(head -c 300 "$d/stderr")"
# Dumps are cumulative: each (in write order; the exit dump, named at
# start, is last) has at least as many samples as the one
# before, and they show the busy function.
prev=0
for f in $(ls -tr "$d" | grep '^prof-.*folded$'); do
	n=$(folded_total "$d/$f")
	grep -q controls_busy "$d/$f" || fail "$f: no controls_busy"
	[ "$n" -ge "$prev" ] || fail "$f: $n samples after $prev"
	prev=$n
done
[ "$prev" -gt 50 ] || fail "last dump has $prev samples"
ls -a "$d" | grep -q '^\.prof' && fail "temporary file left"

# ---- safety net: a thread that unblocks the signal does not die of it
# (the preload sets a default disposition to SIG_IGN), and a forked child
# gets the signal back: unblocked, default action ----
d=$T/unblock
start_app "$d" STILLPROF_CONTROL_SIGNAL=SIGUSR2 STILLPROF_OUT="$d/p.folded" \
	CONTROLS_APP_UNBLOCK=12 CONTROLS_APP_FORK=12 ||
	{ echo "ERROR: app did not start"; exit 99; }
for k in 1 2 3 4 5; do
	kill -USR2 "$TARGET_PID" 2>/dev/null
	sleep 0.1
done
kill -0 "$TARGET_PID" 2>/dev/null || fail "unblocking thread: killed"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "unblocking thread: exit status $APP_STATUS"
[ "$(cat "$d/child" 2>/dev/null)" = "blocked=0 ignored=0" ] ||
	fail "forked child: $(cat "$d/child" 2>/dev/null)"

# ---- a symlink at the dump's name is replaced, never followed ----
d=$T/link
mkdir -p "$d"
echo precious >"$T/target"
ln -s "$T/target" "$d/fixed.folded"
start_app "$d" STILLPROF_CONTROL_SIGNAL=USR2 STILLPROF_OUT="$d/fixed.folded" ||
	{ echo "ERROR: app did not start"; exit 99; }
kill -USR2 "$TARGET_PID"
wait_for sh -c "[ -f '$d/fixed.folded' ] && [ ! -h '$d/fixed.folded' ]" ||
	fail "symlink: the dump did not replace the link"
stop_app "$d"
[ "$(cat "$T/target")" = precious ] || fail "symlink: its target was written"
[ "$(stat -c %a "$d/fixed.folded")" != 777 ] || fail "symlink: mode"

# ---- toggle: paused right after start, so almost nothing is recorded ----
d=$T/toggle
start_app "$d" STILLPROF_CONTROL_SIGNAL=SIGRTMIN+2 STILLPROF_SIGNAL_ACTION=toggle \
	STILLPROF_OUT="$d/p.folded" || { echo "ERROR: app did not start"; exit 99; }
kill -s RTMIN+2 "$TARGET_PID" 2>/dev/null || kill -36 "$TARGET_PID"
sleep 1.5
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "toggle: exit status $APP_STATUS"
n_paused=$(folded_total "$d/p.folded")
d=$T/toggle2
start_app "$d" STILLPROF_CONTROL_SIGNAL=SIGRTMIN+2 STILLPROF_SIGNAL_ACTION=toggle \
	STILLPROF_OUT="$d/p.folded" || { echo "ERROR: app did not start"; exit 99; }
kill -s RTMIN+2 "$TARGET_PID" 2>/dev/null || kill -36 "$TARGET_PID"
sleep 0.5
kill -s RTMIN+2 "$TARGET_PID" 2>/dev/null || kill -36 "$TARGET_PID"
sleep 2 # resumed: a wide margin over the samples taken before the pause
stop_app "$d"
n_resumed=$(folded_total "$d/p.folded")
echo "toggle: $n_paused samples paused, $n_resumed paused then resumed"
[ "$n_resumed" -gt $((n_paused * 2 + 100)) ] ||
	fail "toggle: $n_paused paused vs $n_resumed resumed"

# ---- bad values: message, no profile, the program runs ----
d=$T/bad
start_app "$d" STILLPROF_CONTROL_SIGNAL=SIGKILL STILLPROF_OUT="$d/p.folded" ||
	fail "bad signal: the program did not run"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "bad signal: exit $APP_STATUS"
grep -q 'not profiling: STILLPROF_CONTROL_SIGNAL="SIGKILL"' "$d/stderr" ||
	fail "bad signal: $(cat "$d/stderr")"
[ -e "$d/p.folded" ] && fail "bad signal: a profile was written"

finish "control signal: dumps on USR2, toggle, threads survive"
