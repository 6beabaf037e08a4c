#!/bin/sh
# ruby_gem.sh - the Ruby gem on Debian's Ruby: builds the extension into a
# temporary directory, runs the API-compatibility and sampling tests
# (tests/ruby/*.rb, minitest), checks that the real stackprof CLI reads the
# gem's dumps in every report format, and that strace sees no signal sent
# or delivered while a wall-mode profile runs next to blocked threads.
# RUBY: the ruby binary to test (default: ruby from PATH, Debian's 3.1);
# ruby_gem_33.sh runs this script with a private Ruby 3.3.
# Exit: 0 pass, 1 fail, 77 skip, 99 harness error.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
n_fail=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
skip() { echo "SKIP: $*"; exit 77; }

RUBY=${RUBY:-ruby}
export RUBY
command -v "$RUBY" >/dev/null 2>&1 || skip "ruby not installed"
echo "ruby: $("$RUBY" -v)"
"$RUBY" -rmkmf -e 'exit(File.exist?(File.join(RbConfig::CONFIG["rubyhdrdir"], "ruby.h")) ? 0 : 1)' \
	>/dev/null 2>&1 || skip "ruby-dev not installed"
"$RUBY" -rminitest -e1 2>/dev/null || skip "ruby-minitest not installed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/stillprof-ruby.XXXXXX") || exit 99
# Link the extension against this build's libstillprof (other formats).
BUILDDIR=${BUILDDIR:-$SRCDIR}
if [ -f "$BUILDDIR/.libs/libstillprof.so" ]; then
	STILLPROF_LIBDIR=$BUILDDIR/.libs STILLPROF_INCDIR=$SRCDIR/profiler
	STILLPROF_EXPECT_LIB=1
	export STILLPROF_LIBDIR STILLPROF_INCDIR STILLPROF_EXPECT_LIB
fi
trap 'rm -rf "$TMP"' EXIT INT TERM
STILLPROF_RUBY_BUILD=$TMP/ext STILLPROF_RUBY_LIBOUT=$TMP/lib \
	sh "$SRCDIR/bindings/ruby/build.sh" || { echo "ERROR: build failed"; exit 99; }
RUBYLIB="$TMP/lib:$SRCDIR/bindings/ruby/lib"
export RUBYLIB

for t in "$SRCDIR"/tests/ruby/test_*.rb; do
	if timeout -k 5 300 "$RUBY" "$t"; then
		pass "$(basename "$t")"
	else
		fail "$(basename "$t")"
	fi
done

# --- the stackprof CLI reads our dumps ---
cat > "$TMP/work.rb" <<'RUBY'
require "stillprof/stackprof"
# hot runs 30 ms of wall time whatever the machine's speed or load: a fixed
# loop took ~10 ms, and on a loaded CI machine its dump once had no
# Object#hot at all.
def hot
  x = 0
  t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  x += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) - t < 0.03
  x
end
def nap; sleep 0.02; Array.new(2000) { "x" * 8 }; end
[{mode: :wall, raw: true}, {mode: :cpu, raw: true}, {mode: :wall, raw: false, aggregate: false},
 {mode: :object, interval: 50, raw: true}].each_with_index do |o, i|
  StackProf.run(**o, out: ARGV[0] + "/d#{i}.dump") { 5.times { hot; nap; GC.start } }.close
end
RUBY
if ! timeout -k 5 120 "$RUBY" "$TMP/work.rb" "$TMP"; then
	fail "writing dumps"
elif command -v stackprof >/dev/null 2>&1; then
	for d in "$TMP"/d*.dump; do
		for f in --text --json --files --callgrind --graphviz --debug \
			"--method hot" "--file $TMP/work.rb"; do
			# shellcheck disable=SC2086
			if ! timeout 60 stackprof "$d" $f >"$TMP/out" 2>&1 ||
			    grep -q 'Error\|error' "$TMP/out"; then
				fail "stackprof $f $(basename "$d")"
				head -5 "$TMP/out"
			fi
		done
		case $d in *d2.dump) continue ;; esac # raw formats need :raw
		for f in --stackcollapse --flamegraph --d3-flamegraph; do
			if ! timeout 60 stackprof "$d" $f >"$TMP/out" 2>&1 ||
			    [ ! -s "$TMP/out" ]; then
				fail "stackprof $f $(basename "$d")"
				head -5 "$TMP/out"
			fi
		done
	done
	# The main thread blocked in sleep is read from its backtrace by
	# another thread; such a frame is named by its label alone ("sleep")
	# unless a sample the thread took itself named the same method
	# ("Kernel#sleep", spr_results.c): a make check run on 2026-11-24 had
	# only the former.
	if stackprof "$TMP/d0.dump" --text | grep -q 'Object#hot' &&
	    stackprof "$TMP/d0.dump" --text | grep -Eq ' (Kernel#)?sleep$'; then
		pass "stackprof CLI reads every dump in every format"
	else
		fail "stackprof --text lacks Object#hot / Kernel#sleep"
		stackprof "$TMP/d0.dump" --text 2>&1 | head -20
	fi
else
	echo "NOTE: stackprof CLI not installed (ruby-stackprof): CLI check skipped"
fi

# --- no signal, ever: strace every thread of a profiled process ---
if command -v strace >/dev/null 2>&1; then
	cat > "$TMP/sig.rb" <<'RUBY'
require "stillprof/stackprof"
r, w = IO.pipe
res = StackProf.run(mode: :wall, interval: 1000) do
  ts = [Thread.new { r.read(1) }, Thread.new { sleep 0.3 },
        Thread.new { x = 0; t = Time.now + 0.3; x += 1 while Time.now < t }]
  sleep 0.3
  w.write("x")
  ts.each(&:join)
  # all idle: the parked helper thread samples (woken through its eventfd)
  Thread.new { sleep 0.2 }.join
end
puts "samples=#{res[:samples]} idle_jobs=#{res[:metadata][:idle_jobs]}"
RUBY
	# (Ruby itself creates one SIGVTALRM timer at boot, profiled or not:
	# timer_create is not counted; setitimer would be stackprof's)
	# second run: the >= 3.3 helper-thread fallback (bug #20197),
	# forced (ignored by Rubies without the trigger API)
	for force in 0 1; do
		STILLPROF_RUBY_FORCE_HELPER=$force timeout -k 5 60 \
			strace -f -qq -o "$TMP/strace" \
			-e trace=kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,setitimer \
			-e signal=all "$RUBY" "$TMP/sig.rb" >"$TMP/sig.out" 2>&1
		sent=$(grep -c -E 'kill\(|sigqueueinfo\(|setitimer\(' "$TMP/strace")
		got=$(grep -c -- '--- SIG' "$TMP/strace")
		eintr=$(grep -c 'EINTR\|ERESTART' "$TMP/strace")
		echo "strace (STILLPROF_RUBY_FORCE_HELPER=$force): $sent signal/timer calls, $got signals delivered, $eintr interrupted calls; $(cat "$TMP/sig.out")"
		if [ "$sent" = 0 ] && [ "$got" = 0 ] && grep -q 'samples=[1-9].* idle_jobs=[1-9]' "$TMP/sig.out"; then
			pass "no signal sent or delivered while profiling (forced helper: $force)"
		else
			fail "signals seen (forced helper: $force)"
			grep -E 'kill|SIG|timer' "$TMP/strace" | head
		fi
	done
else
	echo "NOTE: strace not installed: signal check skipped"
fi

[ "$n_fail" = 0 ] || exit 1
exit 0
