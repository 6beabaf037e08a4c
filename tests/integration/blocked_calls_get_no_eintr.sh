#!/bin/sh
# blocked_calls_get_no_eintr.sh - threads blocked in poll, nanosleep,
# epoll_wait, select, connect+poll, recv(SO_RCVTIMEO) and sem_timedwait see
# no EINTR while stillprof samples them in wall mode, and the profile still
# shows every blocked stack and every thread.
#
# (a) baseline: the stackprof-style process-wide SIGALRM timer must produce
#     EINTRs (proof that this test can fail), and with --spread in every
#     kind of call;
# (b) stillprof record --mode wall --interval 1000: EINTR_TOTAL 0, exit 0;
# (c) the same at --interval 100;
# (d) each dump loads in the stackprof CLI, names every blocking function,
#     and its metadata :threads lists every torture thread with samples > 0.
#
# Environment: BUILDDIR (default: .) is where the binaries were built;
# EINTR_TORTURE and STILLPROF override the paths of the two binaries.
# Exit: 0 pass, 1 fail, 77 skip (prerequisite missing), 99 harness error.

BUILDDIR=${BUILDDIR:-.}
here=$(dirname "$0")

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

EINTR_TORTURE=${EINTR_TORTURE:-$(pick "$BUILDDIR/eintr_torture" \
	"$BUILDDIR/tests/integration/eintr_torture" "$here/eintr_torture")}
STILLPROF=${STILLPROF:-$(pick "$BUILDDIR/stillprof" \
	"$BUILDDIR/profiler/stillprof" "$here/../../stillprof" \
	"$here/../../profiler/stillprof")}

n_fail=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
skip() { echo "SKIP: $*"; exit 77; }

# Every command runs under a deadline, so the test always ends.
bounded() {
	secs=$1
	shift
	timeout -k 5 "$secs" "$@"
}

if [ -z "$EINTR_TORTURE" ] || [ ! -x "$EINTR_TORTURE" ]; then
	echo "ERROR: eintr_torture not found (set BUILDDIR or EINTR_TORTURE)"
	exit 99
fi
command -v timeout >/dev/null 2>&1 || skip "timeout(1) not installed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stillprof-eintr.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP

# field KEY FILE: the number after KEY on the line that starts with KEY.
field() {
	awk -v k="$1" '$1 == k { print $2; exit }' "$2"
}

# The thread names and the blocking functions eintr_torture uses.
THREADS="tor-poll tor-nanosleep tor-epoll tor-select tor-connect tor-listen
tor-recv tor-semwait tor-cpu"
FUNCS="torture_poll_wait torture_nanosleep_wait torture_epoll_wait
torture_select_wait torture_connect_wait torture_accept_wait
torture_recv_wait torture_sem_wait torture_cpu_spin"
SECONDS_RUN=3	# length of each profiled run

KINDS="poll nanosleep epoll_wait select connect_poll accept_poll
recv_rcvtimeo sem_timedwait"

# ---- (a) baseline: the process-wide SIGALRM timer ---------------------------

bounded 30 "$EINTR_TORTURE" --seconds 2 --sigalrm 1000 >"$TMP/base.out"
rc=$?
sed 's/^/  baseline: /' "$TMP/base.out"
n=$(field EINTR_TOTAL "$TMP/base.out")
if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
	pass "baseline SIGALRM 1000us: EINTR_TOTAL $n > 0 (the test can fail)"
else
	fail "baseline SIGALRM 1000us: EINTR_TOTAL ${n:-?} exit $rc," \
	     "expected > 0 and exit 0"
fi

# The kernel keeps giving a process-wide signal to the same thread, so the
# plain baseline hits one or two kinds; --spread rotates it over all.
bounded 30 "$EINTR_TORTURE" --seconds 2 --sigalrm 1000 --spread 50 \
	>"$TMP/spread.out"
rc=$?
missed=
for k in $KINDS; do
	e=$(awk -v k="$k" '$1 == "eintr" && $2 == k { print $3 }' \
		"$TMP/spread.out")
	[ "${e:-0}" -gt 0 ] || missed="$missed $k"
done
n=$(field EINTR_TOTAL "$TMP/spread.out")
if [ "$rc" -eq 0 ] && [ -z "$missed" ]; then
	pass "baseline SIGALRM spread: EINTR in every kind (total $n)"
else
	sed 's/^/  spread: /' "$TMP/spread.out"
	fail "baseline SIGALRM spread: no EINTR in:${missed:- (exit $rc)}"
fi

# ---- stillprof halves -------------------------------------------------------

if [ -z "$STILLPROF" ] || [ ! -x "$STILLPROF" ]; then
	[ "$n_fail" -eq 0 ] || exit 1
	skip "stillprof CLI not found (set BUILDDIR or STILLPROF);" \
	     "baseline only"
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 0)
if [ "$paranoid" -gt 2 ] && [ "$(id -u)" -ne 0 ]; then
	[ "$n_fail" -eq 0 ] || exit 1
	skip "perf_event_paranoid=$paranoid > 2: perf_event_open denied"
fi
command -v stackprof >/dev/null 2>&1 ||
	skip "stackprof CLI not installed (Debian package ruby-stackprof)"
command -v ruby >/dev/null 2>&1 || skip "ruby not installed"

# ---- (b), (c): under stillprof, no EINTR ------------------------------------

profile_run() {
	# profile_run INTERVAL: record eintr_torture at INTERVAL microseconds.
	iv=$1
	out="$TMP/wall$iv.out"
	dump="$TMP/wall$iv.dump"
	bounded 60 "$STILLPROF" record --mode wall --interval "$iv" \
		--out "$dump" -- "$EINTR_TORTURE" --seconds "$SECONDS_RUN" \
		>"$out"
	rc=$?
	sed "s/^/  wall $iv: /" "$out"
	n=$(field EINTR_TOTAL "$out")
	errs=$(field ERRORS_TOTAL "$out")
	idle=
	for k in $KINDS; do
		c=$(awk -v k="$k" '$1 == "eintr" && $2 == k { print $5 }' \
			"$out")
		[ "${c:-0}" -gt 0 ] || idle="$idle $k"
	done
	if [ "$rc" -eq 0 ] && [ "$n" = 0 ] && [ "$errs" = 0 ] &&
	   [ -z "$idle" ]; then
		pass "stillprof wall ${iv}us: EINTR_TOTAL 0, exit 0" \
		     "(calls $(field CALLS_TOTAL "$out"))"
	else
		fail "stillprof wall ${iv}us: EINTR_TOTAL ${n:-?}" \
		     "errors ${errs:-?} exit $rc${idle:+, no calls in:$idle}"
	fi
}

check_dump() {
	# check_dump DUMP INTERVAL: stackprof --text reads DUMP, names every
	# blocking function and gives each blocked stack a good part of the
	# wall time; its metadata lists every torture thread with samples;
	# every other stackprof CLI format reads the 1 ms dumps.
	dump=$1
	iv=$2
	label=$(basename "$dump")
	# Wall samples one thread can get in the run: seconds / interval.
	ticks=$((SECONDS_RUN * 1000000 / iv))
	if [ ! -s "$dump" ]; then
		fail "$label: no dump written"
		return
	fi
	if bounded 60 stackprof "$dump" --text --sort-total --limit 200 \
		>"$dump.txt" 2>"$dump.err"; then
		pass "$label: stackprof --text reads it" \
		     "($(grep -m1 "Samples:" "$dump.txt" | tr -s " " |
			 sed "s/^ //"))"
	else
		sed 's/^/  stackprof: /' "$dump.err" | head -20
		fail "$label: stackprof --text failed"
		return
	fi
	# The profile may miss ticks (its :missed_samples) when the machine is
	# busy; a blocked stack must get a quarter of the ticks it kept.
	kept=$(bounded 60 ruby -e 'd = Marshal.load(File.binread(ARGV[0]))
		s = d[:samples].to_i; m = d[:missed_samples].to_i
		puts(s + m > 0 ? s * 1000 / (s + m) : 0)' "$dump")
	floor=$((ticks * ${kept:-0} / 1000 / 4))
	missing=
	thin=
	fat=
	for f in $FUNCS; do
		# The TOTAL column of the frame's line.
		total=$(awk -v f="$f" '$NF == f { print $1; exit }' \
			"$dump.txt")
		if [ -z "$total" ]; then
			missing="$missing $f"
			continue
		fi
		echo "  $label: $f total $total of $ticks ticks"
		# A thread blocked all the run long is on that stack for
		# almost every wall tick it was sampled at; a quarter leaves
		# room for scheduling noise.  The CPU thread only needs some.
		# Each function runs in one thread, which gets one sample per
		# tick at most (20 % slack for the run's start and end).
		case $f in
		*_wait) [ "$total" -ge "$floor" ] ||
				thin="$thin $f($total)" ;;
		*) [ "$total" -gt 0 ] || thin="$thin $f($total)" ;;
		esac
		[ "$total" -le $((ticks * 6 / 5 + 10)) ] ||
			fat="$fat $f($total)"
	done
	if [ -z "$missing" ]; then
		pass "$label: every blocked stack is in the profile"
	else
		head -60 "$dump.txt" | sed 's/^/  text: /'
		fail "$label: frames missing from stackprof --text:$missing"
	fi
	if [ -z "$thin" ]; then
		pass "$label: each blocked stack has >= $floor samples" \
		     "(1/4 of the $((ticks * ${kept:-0} / 1000)) ticks kept)"
	else
		fail "$label: blocked stacks with < $floor samples (1/4 of" \
		     "the $((ticks * ${kept:-0} / 1000)) ticks kept):$thin"
	fi
	if [ -z "$fat" ]; then
		pass "$label: no thread's stack has more samples than ticks"
	else
		fail "$label: stacks with more samples than one thread can" \
		     "get (> $ticks ticks + 20 %):$fat"
	fi

	# Every torture thread is listed with samples, and no thread has
	# more samples than there were ticks, nor all threads together more
	# than the profile's :samples.
	# shellcheck disable=SC2086 # one argument per thread name
	if bounded 60 ruby -e '
		d = Marshal.load(File.binread(ARGV.shift))
		ticks = ARGV.shift.to_i
		th = (d[:metadata] || {})[:threads] || []
		bad = 0
		ARGV.each do |name|
		  t = th.find { |x| x[:name] == name }
		  n = t ? t[:samples].to_i : 0
		  printf("  thread %-14s tid %-8s samples %d\n", name,
		         t ? t[:tid] : "-", n)
		  bad += 1 if n <= 0 || n > ticks * 1.2 + 10
		end
		sum = th.sum { |x| x[:samples].to_i }
		printf("  threads %d, their samples %d, profile :samples %d\n",
		       th.size, sum, d[:samples].to_i)
		bad += 1 if sum > d[:samples].to_i
		exit(bad == 0 ? 0 : 1)
	' "$dump" "$ticks" $THREADS; then
		pass "$label: metadata :threads has every torture thread" \
		     "with 0 < samples <= ticks"
	else
		fail "$label: metadata :threads lacks a thread, or counts" \
		     "more samples than ticks or than the profile has"
	fi

	# Every report format of the stackprof CLI reads the real dump --
	# the 1 ms one: the 100 us dump holds ~300 000 samples now that late
	# wall ticks are replayed, and the CLI's --stackcollapse alone took
	# 98 s of CPU on it (5 min at load 15) without telling us more.
	[ "$iv" -ge 1000 ] || return 0
	# shellcheck disable=SC2086 # one argument per function name
	if bounded 600 sh "$here/stackprof_cli.sh" "$dump" $FUNCS \
		>"$dump.cli" 2>&1; then
		pass "$label: every stackprof CLI format reads it"
	else
		sed 's/^/  cli: /' "$dump.cli" | tail -20
		fail "$label: a stackprof CLI format failed"
	fi
}

profile_run 1000
profile_run 100
check_dump "$TMP/wall1000.dump" 1000
check_dump "$TMP/wall100.dump" 100

if [ "$n_fail" -eq 0 ]; then
	echo "PASS: blocked_calls_get_no_eintr"
	exit 0
fi
echo "FAIL: blocked_calls_get_no_eintr ($n_fail checks failed)"
exit 1
