#!/bin/sh
# shellcheck disable=SC2010,SC2012,SC2016 # ls of small test dirs; literal sh -c scripts
# record_cli.sh - behaviour of `stillprof record` and of the preload module
# used on its own (STILLPROF_* variables):
#
#   * a profile of the demo program: exit 0, one summary line on stderr,
#     a Marshal 4.8 dump that the stackprof CLI reads;
#   * the default output name stillprof-PID.dump (PID = COMMAND's pid);
#   * COMMAND's exit status is passed through (128+N for signal N);
#   * bad options, unusable output paths and missing commands are refused
#     before COMMAND runs, with a message, and create no file;
#   * --mode/--interval/--no-raw reach the dump;
#   * env-only activation, and a bad variable never stops the program;
#   * children of the profiled process are not profiled;
#   * no temporary file is ever left next to the output.
#
# Environment: BUILDDIR (default .), SRCDIR (default .), STILLPROF (default
# $BUILDDIR/stillprof), STACKPROF (default stackprof), RUBY (default ruby).
# Exit 0 pass, 1 fail, 77 skip (perf_event_open unusable), 99 setup error.

BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
STILLPROF=${STILLPROF:-$BUILDDIR/stillprof}
case $STILLPROF in /*) ;; *) STILLPROF=$(pwd)/$STILLPROF ;; esac
DEMO=$BUILDDIR/examples/demo
PRELOAD=$BUILDDIR/.libs/libstillprof_preload.so
STACKPROF=${STACKPROF:-stackprof}
RUBY=${RUBY:-ruby}
LIMIT=60 # seconds allowed to any single command

for f in "$STILLPROF" "$DEMO"; do
	[ -x "$f" ] || { echo "ERROR: $f is not built"; exit 99; }
done
[ -r "$PRELOAD" ] || { echo "ERROR: $PRELOAD is not built"; exit 99; }
command -v timeout >/dev/null 2>&1 || { echo "ERROR: no timeout(1)"; exit 99; }

T=$(mktemp -d "${TMPDIR:-/tmp}/record_cli.XXXXXX") || exit 99
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
printf '1\n1\n' >"$T/ones"

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; }
show_err() { sed -n '1,5s/^/    stderr: /p' "$T/stderr"; }

have_stackprof=0
command -v "$STACKPROF" >/dev/null 2>&1 && have_stackprof=1
have_ruby=0
command -v "$RUBY" >/dev/null 2>&1 && have_ruby=1

# ---- can this kernel / sandbox profile at all? ----
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
if [ "$paranoid" -gt 2 ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: kernel.perf_event_paranoid=$paranoid and not root"
	exit 77
fi
mkdir "$T/probe"
(cd "$T/probe" && timeout -k 5 $LIMIT "$STILLPROF" record \
	--out "$T/probe/p.dump" -- true) >/dev/null 2>"$T/probe.err"
if grep -q "cannot profile" "$T/probe.err"; then
	echo "SKIP: $(head -n 1 "$T/probe.err")"
	exit 77
fi

n=0
# newdir: a fresh empty directory; its path in $d
newdir() {
	n=$((n + 1))
	d=$T/run$n
	mkdir "$d" || exit 99
}

# rec DIR ARGS...: `stillprof record ARGS` with DIR as working directory,
# stdin from $REC_STDIN (default /dev/null); sets rc, $T/stdout, $T/stderr
rec() {
	_dir=$1
	shift
	(cd "$_dir" && exec timeout -k 5 $LIMIT "$STILLPROF" record "$@") \
		<"${REC_STDIN:-/dev/null}" >"$T/stdout" 2>"$T/stderr"
	rc=$?
	[ $rc -eq 124 ] && fail "timed out: stillprof record $*"
}

# envrun DIR VAR=VALUE... COMMAND...: COMMAND with the preload module and
# VARs, in DIR (no stillprof CLI involved); sets rc, $T/stdout, $T/stderr
envrun() {
	_dir=$1
	shift
	(cd "$_dir" && exec timeout -k 5 $LIMIT env LD_PRELOAD="$PRELOAD" "$@") \
		<"${REC_STDIN:-/dev/null}" >"$T/stdout" 2>"$T/stderr"
	rc=$?
	[ $rc -eq 124 ] && fail "timed out: $*"
}

# no_leftovers WHAT DIR: no temporary (dot) file next to the output
no_leftovers() {
	_left=$(ls -A "$2" | grep '^\.' | tr '\n' ' ')
	if [ -n "$_left" ]; then
		fail "$1: leftover files in the output directory: $_left"
	fi
}

# only_files WHAT DIR NAME...: DIR holds exactly the NAMEs (no other file)
only_files() {
	_what=$1
	_dir=$2
	shift 2
	_want=$(for _f in "$@"; do echo "$_f"; done | sort | tr '\n' ' ')
	_have=$(ls -A "$_dir" | sort | tr '\n' ' ')
	[ "$_want" = "$_have" ] ||
		fail "$_what: directory holds '$_have', expected '$_want'"
}

# summary WHAT PATH: the summary line names samples>0, threads, perf_event
# and PATH; sets samples and threads
summary() {
	_line=$(grep '^stillprof: [0-9]* samples, ' "$T/stderr" | tail -n 1)
	samples=$(echo "$_line" | sed -n 's/^stillprof: \([0-9]*\) samples, .*/\1/p')
	threads=$(echo "$_line" | sed -n 's/.* samples, \([0-9]*\) threads, .*/\1/p')
	case $_line in
	*" threads, back-end perf_event, written to $2")
		pass "$1: summary: $_line" ;;
	*)
		fail "$1: no summary line naming back-end perf_event and $2"
		show_err
		return 1 ;;
	esac
}

# is_dump WHAT FILE: exists and starts with Marshal 4.8 (04 08)
is_dump() {
	if [ ! -s "$2" ]; then
		fail "$1: no dump $2"
		return 1
	fi
	_magic=$(head -c 2 "$2" | od -An -tx1 | tr -d ' \n')
	[ "$_magic" = 0408 ] || { fail "$1: $2 starts with $_magic, not 0408"; return 1; }
	return 0
}

# has_fn WHAT FILE FUNCTION [no]: stackprof --text shows FUNCTION (or not)
has_fn() {
	if [ $have_stackprof -eq 0 ]; then
		skip "$1: no $STACKPROF command, not reading the dump"
		return 0
	fi
	if ! timeout -k 5 $LIMIT "$STACKPROF" "$2" --text --limit 1000 \
		>"$T/text" 2>"$T/text.err"; then
		fail "$1: stackprof $2 --text failed: $(head -c 300 "$T/text.err")"
		return 1
	fi
	if grep -q -w -- "$3" "$T/text"; then
		if [ "${4:-}" = no ]; then
			fail "$1: stackprof --text shows $3 (it should not)"
		else
			pass "$1: stackprof --text shows $3"
		fi
	elif [ "${4:-}" = no ]; then
		pass "$1: stackprof --text reads the dump, no $3 in it"
	else
		fail "$1: stackprof --text does not show $3"
	fi
}

# rb WHAT FILE EXPR: the Ruby expression (d = the loaded dump) is true
rb() {
	if [ $have_ruby -eq 0 ]; then
		skip "$1: no ruby"
		return 0
	fi
	if timeout -k 5 $LIMIT "$RUBY" -e \
		'd = Marshal.load(File.binread(ARGV[0])); exit(eval(ARGV[1]) ? 0 : 1)' \
		"$2" "$3" 2>"$T/rb.err"; then
		pass "$1: $3"
	else
		fail "$1: not true of the dump: $3 $(head -c 300 "$T/rb.err")"
	fi
}

# ---- 1. the success path ----
newdir
rec "$d" --out "$d/a.dump" -- "$DEMO" 1
if [ $rc -eq 0 ]; then pass "record demo: exit 0"; else fail "record demo: exit $rc"; show_err; fi
if summary "record demo" "$d/a.dump"; then
	[ "${samples:-0}" -ge 100 ] || fail "record demo: only ${samples:-0} samples"
	[ "${threads:-0}" -ge 6 ] || fail "record demo: only ${threads:-0} threads (demo has 7)"
fi
grep -q "0 blocking calls failed with EINTR" "$T/stdout" ||
	fail "record demo: demo's stdout lacks '0 blocking calls failed with EINTR'"
if is_dump "record demo" "$d/a.dump"; then
	pass "record demo: dump starts with 04 08"
	has_fn "record demo" "$d/a.dump" hash_block
	rb "record demo defaults" "$d/a.dump" \
		'd[:mode] == :wall && d[:interval] == 1000 && d.key?(:raw) && d[:samples] > 0'
fi
no_leftovers "record demo" "$d"
only_files "record demo" "$d" a.dump

# ---- 2. default output: stillprof-PID.dump in the working directory ----
# sh writes its pid, then execs demo in the same process: the profiled
# process is the one stillprof started, and the file is named after it.
newdir
rec "$d" -- sh -c 'echo $$ > "$1"; exec "$0" 1' "$DEMO" "$T/pid"
pid=$(cat "$T/pid" 2>/dev/null)
[ $rc -eq 0 ] || { fail "default out: exit $rc"; show_err; }
set -- "$d"/stillprof-[0-9]*.dump
if [ $# -eq 1 ] && [ -f "$1" ]; then
	name=${1##*/}
	if [ "$name" = "stillprof-$pid.dump" ]; then
		pass "default out: $name, named after COMMAND's pid"
	else
		fail "default out: $name, expected stillprof-$pid.dump"
	fi
	summary "default out" "$1"
	is_dump "default out" "$1" && has_fn "default out" "$1" hash_block
else
	fail "default out: expected one stillprof-PID.dump, found: $(ls -A "$d" | tr '\n' ' ')"
fi
no_leftovers "default out" "$d"

# ---- 3. COMMAND's exit status is passed through ----
newdir
rec "$d" -- sh -c 'exit 7'
if [ $rc -eq 7 ]; then pass "exit status 7 passed through"; else fail "exit 7: got $rc"; show_err; fi
no_leftovers "exit 7" "$d"
newdir
rec "$d" -- sh -c 'kill -TERM $$'
if [ $rc -eq 143 ]; then pass "SIGTERM -> exit status 143"; else fail "killed by SIGTERM: got $rc (want 143)"; show_err; fi
no_leftovers "SIGTERM" "$d"
newdir
rec "$d" --out "$d/e.dump" -- "$DEMO" 0
if [ $rc -ne 0 ]; then
	pass "demo's own usage error (exit $rc) passed through"
else
	fail "demo 0 should fail (usage), stillprof record exited 0"
fi
no_leftovers "demo 0" "$d"

# ---- 4. bad invocations: refused before COMMAND runs, no file created ----
marker=$T/marker
# bad WHAT RC WORD ARGS...: `record ARGS -- sh -c 'create marker'` in a fresh
# directory must exit RC, say WORD on stderr, not run sh, create nothing
bad() {
	_what=$1 _rc=$2 _word=$3
	shift 3
	newdir
	rm -f "$marker"
	rec "$d" "$@" -- sh -c ': > "$0"' "$marker"
	_ok=1
	[ $rc -eq "$_rc" ] || { fail "$_what: exit $rc, want $_rc"; _ok=0; }
	grep -q -i -F -- "$_word" "$T/stderr" ||
		{ fail "$_what: stderr does not name '$_word'"; show_err; _ok=0; }
	[ -e "$marker" ] && { fail "$_what: COMMAND ran"; _ok=0; }
	_files=$(ls -A "$d")
	[ -z "$_files" ] ||
		{ fail "$_what: files created: $_files"; _ok=0; }
	[ $_ok -eq 1 ] && pass "$_what: refused (exit $rc): $(head -n 1 "$T/stderr")"
}
bad "--mode object" 2 object --mode object
bad "--mode ''" 2 mode --mode ''
bad "--interval 0" 2 interval --interval 0
bad "--interval 1000001" 2 interval --interval 1000001
bad "--interval abc" 2 interval --interval abc
bad "--interval -5" 2 interval --interval -5
bad "--interval 1e3" 2 interval --interval 1e3
bad "--out /nonexistent-dir/x.dump" 2 /nonexistent-dir --out /nonexistent-dir/x.dump
bad "--out under a regular file" 2 "Not a directory" --out "$T/ones/x.dump"
bad "--bogus" 2 bogus --bogus
bad "--raw=0" 2 "--raw=0" --raw=0

# --out naming a directory: refused, the directory stays as it was
newdir
dd=$d
rm -f "$marker"
rec "$dd" --out "$dd" -- sh -c ': > "$0"' "$marker"
if [ $rc -eq 2 ] && grep -q -i directory "$T/stderr" && [ ! -e "$marker" ] &&
	[ -d "$dd" ] && [ -z "$(ls -A "$dd")" ]; then
	pass "--out DIRECTORY: refused: $(head -n 1 "$T/stderr")"
else
	fail "--out DIRECTORY: exit $rc, marker $([ -e "$marker" ] && echo created || echo absent), dir holds '$(ls -A "$dd" 2>&1 | tr '\n' ' ')'"
	show_err
fi

# read-only output directory (and read-only working directory for the
# default name).  Root ignores permissions: then run as nobody if possible.
ro_run="" ro_ok=0 ro_who=""
if [ "$(id -u)" -ne 0 ]; then
	ro_ok=1
elif command -v setpriv >/dev/null 2>&1; then
	chmod 711 "$T"
	if setpriv --reuid=65534 --regid=65534 --clear-groups \
		test -x "$STILLPROF" 2>/dev/null; then
		ro_run="setpriv --reuid=65534 --regid=65534 --clear-groups"
		ro_ok=1 ro_who=" (as nobody)"
	fi
fi
if [ $ro_ok -eq 0 ]; then
	skip "read-only directory: running as root and cannot switch to nobody"
else
	newdir
	ro=$d
	mkdir "$T/rw" && chmod 777 "$T/rw"
	chmod 555 "$ro"
	# shellcheck disable=SC2086 # ro_run is a command prefix
	for args in "--out $ro/x.dump" ""; do
		rm -f "$T/rw/marker"
		(cd "$ro" && exec timeout -k 5 $LIMIT $ro_run "$STILLPROF" record \
			$args -- sh -c ': > "$0"' "$T/rw/marker") \
			</dev/null >"$T/stdout" 2>"$T/stderr"
		rc=$?
		what="read-only directory, default output"
		[ -n "$args" ] && what="read-only directory ($args)"
		if [ $rc -eq 2 ] && [ ! -e "$T/rw/marker" ] &&
			[ -z "$(ls -A "$ro")" ] &&
			grep -q -i -e "permission denied" -e "cannot write" "$T/stderr"; then
			pass "$what$ro_who: refused: $(head -n 1 "$T/stderr")"
		else
			fail "$what: exit $rc, marker $([ -e "$T/rw/marker" ] && echo created || echo absent), dir '$(ls -A "$ro" | tr '\n' ' ')'"
			show_err
		fi
	done
	chmod 755 "$ro"
fi

# missing COMMAND (several spellings): exit 2, nothing created
for args in "" "--out x.dump" "--out x.dump --" "--mode cpu --" "--out"; do
	newdir
	# shellcheck disable=SC2086 # word splitting wanted
	rec "$d" $args
	if [ $rc -eq 2 ] && grep -q -i "command" "$T/stderr" && [ -z "$(ls -A "$d")" ]; then
		pass "missing COMMAND (record $args): exit 2: $(head -n 1 "$T/stderr")"
	else
		fail "missing COMMAND (record $args): exit $rc, files '$(ls -A "$d" | tr '\n' ' ')'"
		show_err
	fi
done

# a command that does not exist: 127, named on stderr, nothing created
for cmd in no-such-command-xyz ./no-such-command-xyz /nonexistent/no-such-command-xyz; do
	newdir
	rec "$d" -- "$cmd" arg
	if [ $rc -eq 127 ] && grep -q -F -- "$cmd" "$T/stderr" &&
		[ -z "$(ls -A "$d")" ]; then
		pass "missing command $cmd: exit 127: $(head -n 1 "$T/stderr")"
	else
		fail "missing command $cmd: exit $rc, files '$(ls -A "$d" | tr '\n' ' ')'"
		show_err
	fi
done

# ---- 5. options reach the dump ----
newdir
rec "$d" --mode cpu --interval 500 --out "$d/cpu.dump" -- "$DEMO" 1
[ $rc -eq 0 ] || { fail "--mode cpu: exit $rc"; show_err; }
if is_dump "--mode cpu" "$d/cpu.dump"; then
	summary "--mode cpu --interval 500" "$d/cpu.dump"
	rb "--mode cpu --interval 500" "$d/cpu.dump" \
		'd[:mode] == :cpu && d[:interval] == 500 && d[:samples] > 0'
	has_fn "--mode cpu" "$d/cpu.dump" hash_block
fi
no_leftovers "--mode cpu" "$d"

newdir
rec "$d" --no-raw --out "$d/noraw.dump" -- "$DEMO" 1
[ $rc -eq 0 ] || { fail "--no-raw: exit $rc"; show_err; }
if is_dump "--no-raw" "$d/noraw.dump"; then
	rb "--no-raw" "$d/noraw.dump" \
		'!d.key?(:raw) && !d.key?(:raw_timestamp_deltas) && d[:samples] > 0'
	has_fn "--no-raw" "$d/noraw.dump" hash_block
fi
no_leftovers "--no-raw" "$d"

# ---- --format: several outputs of one run, named after --out ----
newdir
rec "$d" --format stackprof --format json --format pprof --format collapsed \
	--format speedscope --out "$d/run.dump" -- "$DEMO" 1
[ $rc -eq 0 ] || { fail "--format x5: exit $rc"; show_err; }
missing=
for f in run.dump run.json run.pb.gz run.folded run.speedscope.json; do
	[ -s "$d/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ] && grep -q "run.pb.gz" "$T/stderr"; then
	pass "--format x5: all five files written and named in the summary"
else
	fail "--format x5: missing:$missing"; show_err
fi
if command -v stackprof >/dev/null 2>&1 &&
    stackprof "$d/run.json" --text | grep -q hash_block; then
	pass "--format json: the stackprof CLI reads it"
else
	fail "--format json: stackprof --text on run.json"
fi
if [ "$(gzip -dc "$d/run.pb.gz" | head -c 1 | od -An -tx1 | tr -d ' ')" = 0a ]; then
	pass "--format pprof: gzip of a protobuf starting with sample_type"
else
	fail "--format pprof: not a gzipped profile"
fi
if grep -q '^cruncher-1-[0-9]*;.*hash_block [0-9]*$' "$d/run.folded"; then
	pass "--format collapsed: thread-rooted folded stacks"
else
	fail "--format collapsed: no cruncher-1 stack with hash_block"
fi
no_leftovers "--format x5" "$d"
newdir
rec "$d" --out "$d/only.pb.gz" -- "$DEMO" 1
if [ $rc -eq 0 ] && [ "$(head -c 2 "$d/only.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
	pass "--out x.pb.gz: pprof chosen by the extension"
else
	fail "--out x.pb.gz: exit $rc, not gzip"; show_err
fi
newdir
rec "$d" --format html5 -- sh -c "touch '$d/ran'"
if [ $rc -eq 2 ] && [ ! -e "$d/ran" ] && grep -q "html5" "$T/stderr"; then
	pass "--format html5: refused before COMMAND runs"
else
	fail "--format html5: exit $rc"; show_err
fi

# ---- 6. the preload module alone, configured by environment ----
newdir
envrun "$d" STILLPROF_OUT="$d/env.dump" STILLPROF_MODE=wall "$DEMO" 1
[ $rc -eq 0 ] || { fail "env-only: exit $rc"; show_err; }
if is_dump "env-only" "$d/env.dump"; then
	pass "env-only: STILLPROF_OUT written"
	has_fn "env-only" "$d/env.dump" hash_block
	rb "env-only" "$d/env.dump" 'd[:mode] == :wall && d[:interval] == 1000'
fi
no_leftovers "env-only" "$d"
only_files "env-only" "$d" env.dump

# a bad variable: the program still runs and exits 0, a "stillprof:"
# message names the variable, no dump anywhere
for var in STILLPROF_INTERVAL=0 STILLPROF_MODE=object STILLPROF_RAW=maybe \
	STILLPROF_MAX_DEPTH=0; do
	newdir
	envrun "$d" STILLPROF_OUT="$d/bad.dump" "$var" "$DEMO" 1
	name=${var%%=*}
	if [ $rc -eq 0 ] && grep -q "demo: done" "$T/stdout" &&
		grep "^stillprof:" "$T/stderr" | grep -q -F "$name" &&
		[ -z "$(ls -A "$d")" ]; then
		pass "env $var: program ran (exit 0), not profiled: $(grep '^stillprof:' "$T/stderr" | head -n 1)"
	else
		fail "env $var: exit $rc, files '$(ls -A "$d" | tr '\n' ' ')'"
		show_err
	fi
done

# ---- 7. children of the profiled process are not profiled ----
# The root process is xargs, which forks two demos and exits through
# exit(): its dump must exist (default name, so a profiled child would
# show up as a second stillprof-*.dump) and hold no hash_block.
for how in record env; do
	newdir
	if [ $how = record ]; then
		REC_STDIN=$T/ones
		rec "$d" -- xargs -n 1 "$DEMO"
	else
		REC_STDIN=$T/ones
		envrun "$d" xargs -n 1 "$DEMO"
	fi
	REC_STDIN=
	what="children ($how): xargs running two demos"
	[ $rc -eq 0 ] || { fail "$what: exit $rc"; show_err; }
	set -- "$d"/stillprof-*.dump
	if [ $# -eq 1 ] && [ -f "$1" ]; then
		pass "$what: one dump, ${1##*/}"
		[ $how = record ] && summary "$what" "$1"
		has_fn "$what" "$1" hash_block no
	else
		fail "$what: expected one dump (the root's), found: $(ls -A "$d" | tr '\n' ' ')"
	fi
	no_leftovers "$what" "$d"
done
# The root writes nothing (killed), so a dump at STILLPROF_OUT could only
# come from a child.
for how in record env; do
	newdir
	script='"$0" 1 >/dev/null; "$0" 1 >/dev/null; kill -KILL $$'
	if [ $how = record ]; then
		rec "$d" --out "$d/kids.dump" -- sh -c "$script" "$DEMO"
	else
		exec 3>&2 2>/dev/null # no "Killed" from this shell
		envrun "$d" STILLPROF_OUT="$d/kids.dump" sh -c "$script" "$DEMO"
		exec 2>&3 3>&-
	fi
	what="children ($how): sh killed after two demos"
	[ $rc -eq 137 ] || fail "$what: exit $rc, want 137"
	if [ -z "$(ls -A "$d")" ]; then
		pass "$what: no dump written by the children"
	else
		fail "$what: files written: $(ls -A "$d" | tr '\n' ' ')"
	fi
done

echo
if [ $failures -eq 0 ]; then
	echo "PASS: record_cli.sh"
	exit 0
fi
echo "FAIL: record_cli.sh: $failures failure(s)"
exit 1
