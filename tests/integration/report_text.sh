#!/bin/sh
# report_text.sh - `stillprof report FILE --text` against the stackprof CLI:
#
#   * every fixture dump and JSON written by the stackprof gem: the header
#     (Mode, Samples/miss rate, GC) is identical and every frame row
#     (TOTAL, SAMPLES, FRAME) is the same multiset as `stackprof --text`;
#   * a fresh `stillprof record` dump of examples/demo: same comparison,
#     plus the thread list, and `--thread poller` against a Ruby oracle that
#     counts the poller's :raw records (via :metadata => :raw_threads);
#   * errors: missing file and corrupt data exit 1 (the message names the
#     byte offset), bad usage and unknown output options exit 2,
#     --thread on a dump without per-thread data exits 1.
#
# Environment: BUILDDIR (default .), SRCDIR (default .), STILLPROF (default
# $BUILDDIR/stillprof), STACKPROF (default stackprof), RUBY (default ruby).
# Exit 0 pass, 1 fail, 77 skip (no stackprof CLI), 99 setup error.

BUILDDIR=${BUILDDIR:-.}
SRCDIR=${SRCDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
SRCDIR=$(cd "$SRCDIR" && pwd) || { echo "ERROR: no SRCDIR"; exit 99; }
STILLPROF=${STILLPROF:-$BUILDDIR/stillprof}
DEMO=$BUILDDIR/examples/demo
STACKPROF=${STACKPROF:-stackprof}
RUBY=${RUBY:-ruby}
LIMIT=60

[ -x "$STILLPROF" ] || { echo "ERROR: $STILLPROF is not built"; exit 99; }
command -v timeout >/dev/null 2>&1 || { echo "ERROR: no timeout(1)"; exit 99; }
if ! command -v "$STACKPROF" >/dev/null 2>&1; then
	echo "SKIP: no stackprof CLI (Debian ruby-stackprof)"
	exit 77
fi
if ! "$STILLPROF" report --help >/dev/null 2>&1; then
	echo "ERROR: $STILLPROF has no 'report' command (cli.c)"
	exit 99
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/report_text.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Frame rows as "TOTAL SAMPLES NAME", sorted (stackprof's order of equal
# self counts is Ruby's unstable sort_by).
rows() {
	sed -n 's/^ *\([0-9][0-9]*\) *([ 0-9.]*%) *\([0-9][0-9]*\) *([ 0-9.]*%)     \(.*\)$/\1 \2 \3/p' "$1" | LC_ALL=C sort
}
# The three header lines both tools print.
header() {
	grep -E '^  (Mode|Samples|GC): ' "$1"
}

# compare NAME FILE: stillprof report vs stackprof --text on FILE.
compare() {
	name=$1 file=$2
	if ! timeout $LIMIT "$STILLPROF" report "$file" --text --limit 0 \
	    >"$T/ours" 2>"$T/err"; then
		fail "$name: stillprof report exited non-zero: $(head -c 300 "$T/err")"
		return
	fi
	if ! timeout $LIMIT "$STACKPROF" "$file" --text --limit 100000 \
	    >"$T/theirs" 2>"$T/err"; then
		fail "$name: stackprof --text failed: $(head -c 300 "$T/err")"
		return
	fi
	header "$T/ours" >"$T/h1"
	header "$T/theirs" >"$T/h2"
	if ! cmp -s "$T/h1" "$T/h2"; then
		fail "$name: header differs"
		diff "$T/h2" "$T/h1" | sed 's/^/    /'
		return
	fi
	rows "$T/ours" >"$T/r1"
	rows "$T/theirs" >"$T/r2"
	if [ ! -s "$T/r2" ]; then
		fail "$name: no frame rows parsed from stackprof's output"
	elif cmp -s "$T/r1" "$T/r2"; then
		pass "$name: $(wc -l <"$T/r1") frame rows and header equal stackprof --text"
	else
		fail "$name: frame rows differ (< stackprof, > stillprof)"
		diff "$T/r2" "$T/r1" | head -20 | sed 's/^/    /'
	fi
}

for f in "$SRCDIR"/tests/fixtures/*.dump "$SRCDIR"/tests/fixtures/*.json; do
	[ -e "$f" ] || continue
	compare "$(basename "$f")" "$f"
done

# ---- errors ----
expect_exit() { # WANT NAME PATTERN CMD...
	want=$1 name=$2 pattern=$3
	shift 3
	timeout $LIMIT "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, expected $want: $(head -c 300 "$T/err")"
	elif ! grep -q -- "$pattern" "$T/err"; then
		fail "$name: stderr lacks '$pattern': $(head -c 300 "$T/err")"
	else
		pass "$name: exit $want, $(head -n 1 "$T/err" | cut -c1-110)"
	fi
}
FIX=$SRCDIR/tests/fixtures
expect_exit 1 "missing file" "No such file" \
	"$STILLPROF" report "$T/nonexistent.dump"
head -c 700 "$FIX/wall-raw-0.2.28.dump" >"$T/trunc.dump"
expect_exit 1 "truncated Marshal" "offset [0-9]" \
	"$STILLPROF" report "$T/trunc.dump"
head -c 1000 "$FIX/wall-raw-0.2.28.json" >"$T/trunc.json"
expect_exit 1 "truncated JSON" "offset [0-9]" \
	"$STILLPROF" report "$T/trunc.json"
printf '\004\010o:\011Test\000' >"$T/object.dump"
expect_exit 1 "unsupported Marshal type" "offset 2.*Object" \
	"$STILLPROF" report "$T/object.dump"
expect_exit 1 "directory" "directory" "$STILLPROF" report "$T"
expect_exit 2 "no FILE" "no FILE" "$STILLPROF" report
expect_exit 2 "unknown option" "unknown option" \
	"$STILLPROF" report "$FIX/cpu-raw-0.2.28.dump" --bogus
expect_exit 2 "bad --limit" "bad --limit" \
	"$STILLPROF" report "$FIX/cpu-raw-0.2.28.dump" --limit -3
expect_exit 2 "--bogus-format refused" "unknown option" \
	"$STILLPROF" report "$FIX/cpu-raw-0.2.28.dump" --bogus-format "$T/x.json"
expect_exit 1 "--thread without per-thread data" "per-thread" \
	"$STILLPROF" report "$FIX/cpu-raw-0.2.28.dump" --thread 1

# ---- a fresh stillprof dump of the demo ----
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
if [ ! -x "$DEMO" ]; then
	echo "SKIP: $DEMO is not built"
elif [ "$paranoid" -gt 2 ] && [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: demo profile: kernel.perf_event_paranoid=$paranoid"
elif ! timeout $LIMIT "$STILLPROF" record --out "$T/demo.dump" -- \
    "$DEMO" 1 >"$T/rec.out" 2>"$T/rec.err"; then
	if grep -qi "perf" "$T/rec.err"; then
		echo "SKIP: demo profile: $(head -n 1 "$T/rec.err")"
	else
		fail "stillprof record of the demo: $(head -c 300 "$T/rec.err")"
	fi
else
	compare "demo dump" "$T/demo.dump"
	"$STILLPROF" report "$T/demo.dump" >"$T/ours" 2>&1
	for name in poller sleeper cruncher-1; do
		if grep -q "^ *[0-9][0-9]*  $name " "$T/ours"; then
			pass "demo dump: thread list shows $name"
		else
			fail "demo dump: thread list lacks $name"
		fi
	done
	if ! timeout $LIMIT "$STILLPROF" report "$T/demo.dump" --thread poller \
	    --limit 0 >"$T/poller" 2>"$T/err"; then
		fail "--thread poller: $(head -c 300 "$T/err")"
	elif ! command -v "$RUBY" >/dev/null 2>&1; then
		echo "SKIP: --thread oracle needs ruby"
	else
		# The oracle: walk :raw with :raw_threads, keep the poller's
		# records, count self (leaf) and total (once per sample).
		"$RUBY" -e '
			d = Marshal.load(File.binread(ARGV[0]))
			m = d[:metadata]
			tids = m[:threads].select { |t| t[:name] == "poller" }.map { |t| t[:tid] }
			raw = d[:raw]; i = 0; r = 0
			self_c = Hash.new(0); total = Hash.new(0)
			while i < raw.size
				len = raw[i]; ids = raw[i + 1, len]; n = raw[i + 1 + len]
				if tids.include?(m[:raw_threads][r])
					self_c[ids.last] += n
					ids.uniq.each { |id| total[id] += n }
				end
				i += len + 2; r += 1
			end
			total.each { |id, t| puts "#{t} #{self_c[id]} #{d[:frames][id][:name]}" }
		' "$T/demo.dump" | LC_ALL=C sort >"$T/r2"
		rows "$T/poller" >"$T/r1"
		if [ -s "$T/r2" ] && cmp -s "$T/r1" "$T/r2"; then
			pass "--thread poller: $(wc -l <"$T/r1") rows equal the Ruby oracle over :raw_threads"
		else
			fail "--thread poller differs from the Ruby oracle (< oracle, > stillprof)"
			diff "$T/r2" "$T/r1" | head -20 | sed 's/^/    /'
		fi
		tid=$(sed -n 's/^ *\([0-9][0-9]*\)  poller .*/\1/p' "$T/poller")
		"$STILLPROF" report "$T/demo.dump" --thread "$tid" --limit 0 \
			>"$T/bytid" 2>&1
		if [ -n "$tid" ] && [ "$(rows "$T/bytid")" = "$(cat "$T/r1")" ]; then
			pass "--thread $tid (the poller's tid) gives the same rows"
		else
			fail "--thread by tid '$tid' differs from --thread poller"
		fi
	fi
	expect_exit 1 "--thread unknown" "no thread" \
		"$STILLPROF" report "$T/demo.dump" --thread no-such-thread

	# File outputs of the same dump: JSON reads in the stackprof CLI
	# with the Marshal dump's totals, collapsed counts add up to the
	# samples, pprof reads in go tool pprof when Go is installed.
	if timeout $LIMIT "$STILLPROF" report "$T/demo.dump" --json \
	    "$T/demo.json" --collapsed "$T/demo.folded" --pprof \
	    "$T/demo.pb.gz" --speedscope "$T/demo.speedscope.json" \
	    >"$T/out" 2>"$T/err" && [ ! -s "$T/out" ]; then
		pass "--json/--collapsed/--pprof/--speedscope write files and no text"
	else
		fail "report file outputs: $(head -c 300 "$T/err")"
	fi
	if command -v stackprof >/dev/null 2>&1 &&
	    stackprof "$T/demo.dump" --text --limit 1000 >"$T/mt" &&
	    stackprof "$T/demo.json" --text --limit 1000 >"$T/jt" &&
	    rows "$T/mt" >"$T/m" && rows "$T/jt" >"$T/j" &&
	    [ -s "$T/m" ] && cmp -s "$T/m" "$T/j"; then
		pass "stackprof CLI: JSON output has the dump's totals"
	else
		fail "stackprof CLI: JSON output totals differ from the dump's"
	fi
	samples=$("$RUBY" -e 'p Marshal.load(File.binread(ARGV[0]))[:samples]' "$T/demo.dump")
	folded=$(awk '{ n += $NF } END { print n + 0 }' "$T/demo.folded")
	if [ "$samples" = "$folded" ] && grep -q '^poller-[0-9]*;' "$T/demo.folded"; then
		pass "collapsed: $folded samples, thread as root frame"
	else
		fail "collapsed: $folded samples vs $samples in the dump"
	fi
	# speedscope: valid JSON, one sampled profile per thread of the
	# dump, as many samples (and weights) as the dump's :samples.
	if "$RUBY" -rjson -e '
		d = Marshal.load(File.binread(ARGV[0]))
		s = JSON.parse(File.read(ARGV[1]))
		s["$schema"] == "https://www.speedscope.app/file-format-schema.json" or abort "schema"
		ps = s["profiles"]
		ps.size == d[:metadata][:threads].size or abort "#{ps.size} profiles"
		ps.all? { |p| p["type"] == "sampled" && p["samples"].size == p["weights"].size &&
			p["endValue"] == p["weights"].sum } or abort "profile shape"
		n = ps.sum { |p| p["samples"].size }
		n == d[:samples] or abort "#{n} samples vs #{d[:samples]}"
		nf = s["shared"]["frames"].size
		ps.all? { |p| p["samples"].flatten.all? { |i| i < nf } } or abort "frame index"
	' "$T/demo.dump" "$T/demo.speedscope.json" 2>"$T/err"; then
		pass "speedscope: one profile per thread, samples add up to the dump's"
	else
		fail "speedscope: $(head -c 300 "$T/err")"
	fi
	if command -v go >/dev/null 2>&1; then
		GOHOME=$T/gohome; mkdir -p "$GOHOME"
		if HOME=$GOHOME GOCACHE=$GOHOME/cache PPROF_TMPDIR=$GOHOME \
		    timeout 300 go tool pprof -top "$T/demo.pb.gz" >"$T/top" 2>&1 &&
		    grep -q 'hash_block' "$T/top"; then
			pass "go tool pprof -top reads the pprof output"
		else
			fail "go tool pprof: $(head -c 300 "$T/top")"
		fi
	else
		echo "SKIP: go tool pprof (golang-go not installed)"
	fi
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
exit 0
