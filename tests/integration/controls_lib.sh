# controls_lib.sh - shared by the production-control tests (sourced):
# paths, a temp dir removed at exit, bounded waits, and starting/stopping
# controls_app under the preload module by pid.  Every wait is bounded;
# every process started is killed by its pid at exit.

BUILDDIR=${BUILDDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
SRCDIR=${SRCDIR:-$BUILDDIR}
PRELOAD=$BUILDDIR/.libs/libstillprof_preload.so
APP=$BUILDDIR/tests/integration/controls_app
GO=${GO:-go}
[ -r "$PRELOAD" ] || { echo "ERROR: $PRELOAD is not built"; exit 99; }
[ -x "$APP" ] || { echo "ERROR: $APP is not built"; exit 99; }

T=$(mktemp -d "${TMPDIR:-/tmp}/stillprof_controls.XXXXXX") || exit 99
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# wait_for COND-COMMAND... : up to 20 s, polling every 0.1 s.
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		"$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# start_app DIR VAR=VALUE...: run controls_app DIR with the preload module
# (only in the app: env sets LD_PRELOAD for it alone) and the variables,
# in the background, prefixed by $WRAP if set; APP_PID is the background
# job, TARGET_PID the program itself (from DIR/ready).  Returns 1 if it
# never gets ready.
start_app() {
	dir=$1
	shift
	mkdir -p "$dir"
	# shellcheck disable=SC2086 # WRAP is a word list
	timeout 90 $WRAP env LD_PRELOAD="$PRELOAD" STILLPROF_ROOT_PID= "$@" \
		"$APP" "$dir" >"$dir/stdout" 2>"$dir/stderr" &
	APP_PID=$!
	PIDS="$PIDS $APP_PID"
	wait_for test -s "$dir/ready" || return 1
	TARGET_PID=$(cat "$dir/ready")
	PIDS="$PIDS $TARGET_PID"
}

# stop_app DIR: ask it to exit, wait; APP_STATUS is its exit status.
stop_app() {
	touch "$1/stop"
	wait "$APP_PID"
	APP_STATUS=$?
}

perf_usable() {
	d=$T/probe
	start_app "$d" STILLPROF_OUT="$d/p.folded" || return 1
	stop_app "$d"
	[ "$APP_STATUS" = 0 ] && ! grep -q "not profiling" "$d/stderr"
}

# folded_total FILE: sum of the counts of a collapsed file.
folded_total() {
	awk '{ n += $NF } END { print n + 0 }' "$1"
}

have_go() {
	command -v "$GO" >/dev/null 2>&1 &&
		env HOME="$T" GOCACHE="$T/gocache" "$GO" tool -n pprof \
			>/dev/null 2>&1
}

pprof() {
	timeout 120 env -u GOFLAGS HOME="$T" GOCACHE="$T/gocache" \
		PPROF_TMPDIR="$T" GOTOOLCHAIN=local GOPROXY=off \
		"$GO" tool pprof "$@"
}

finish() {
	if [ $failures -ne 0 ]; then
		echo "$failures check(s) failed"
		exit 1
	fi
	echo "PASS: $1"
	exit 0
}
