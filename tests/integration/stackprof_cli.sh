#!/bin/sh
# stackprof_cli.sh - does the stackprof command line (Debian ruby-stackprof)
# render our dumps?  Runs every report format on a dump and checks that each
# exits 0 and names the expected functions.
#
#   stackprof_cli.sh                       synthetic dump from make_dump,
#                                          with exact totals checked
#   stackprof_cli.sh DUMP FUNCTION...      any dump (e.g. a real profile);
#                                          FUNCTIONs must appear in it
#
# Exit 0 pass, 1 fail, 77 skip (no stackprof CLI), 99 setup error.
# MAKE_DUMP (default: make_dump next to this script or in
# tests/integration/ of the current directory) and STACKPROF (default:
# stackprof) can be overridden from the environment.

STACKPROF=${STACKPROF:-stackprof}
if ! command -v "$STACKPROF" >/dev/null 2>&1; then
	echo "SKIP: no stackprof command (Debian package ruby-stackprof)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stackprof_cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

synthetic=0
if [ $# -eq 0 ]; then
	make_dump=${MAKE_DUMP:-}
	if [ -z "$make_dump" ]; then
		for c in "$(dirname "$0")/make_dump" ./tests/integration/make_dump; do
			[ -x "$c" ] && make_dump=$c && break
		done
	fi
	if [ -z "$make_dump" ] || [ ! -x "$make_dump" ]; then
		echo "ERROR: make_dump not built (set MAKE_DUMP)"
		exit 99
	fi
	dump=$tmp/synthetic.dump
	"$make_dump" "$dump" >"$tmp/expected" || exit 99
	# shellcheck disable=SC2046 # one word per function name
	set -- $(cut -d' ' -f1 "$tmp/expected")
	synthetic=1
elif [ $# -eq 1 ]; then
	echo "usage: $0 [DUMP EXPECTED_FUNCTION...]"
	exit 99
else
	dump=$1
	shift
fi
[ -r "$dump" ] || { echo "ERROR: cannot read $dump"; exit 99; }

# run NAME ARGS...: stackprof DUMP ARGS > $tmp/NAME, must exit 0, non-empty
run() {
	name=$1
	shift
	if ! "$STACKPROF" "$dump" "$@" >"$tmp/$name" 2>"$tmp/$name.err"; then
		fail "stackprof $* exited non-zero: $(head -c 300 "$tmp/$name.err")"
		return 1
	fi
	[ -s "$tmp/$name" ] || { fail "stackprof $* printed nothing"; return 1; }
	return 0
}

# names NAME: every expected function appears in output NAME
names() {
	out=$1
	shift
	for fn in "$@"; do
		grep -F -q -- "$fn" "$tmp/$out" ||
			fail "$out: no '$fn' in the output"
	done
}

if run text --text --limit 1000; then
	names text "$@"
	grep -q 'Mode: \(wall\|cpu\)' "$tmp/text" || fail "text: no Mode header"
	if [ $synthetic = 1 ]; then
		grep -q 'Samples: 210 ' "$tmp/text" || fail "text: not 210 samples"
		# "TOTAL (pct) SAMPLES (pct) FRAME": compare with make_dump's
		while read -r fn total self; do
			awk -v fn="$fn" -v t="$total" -v s="$self" '
				$5 == fn && NF == 5 { found = 1
					if ($1 != t || $3 != s) bad = 1 }
				END { exit (found && !bad) ? 0 : 1 }' "$tmp/text" ||
				fail "text: $fn is not $total total / $self self"
		done <"$tmp/expected"
	fi
fi

if run method --method "$1"; then
	grep -F -q -- "$1" "$tmp/method" || fail "method: no '$1'"
	grep -q 'samples:' "$tmp/method" || fail "method: no samples line"
fi

if run callgrind --callgrind; then
	grep -q '^events:' "$tmp/callgrind" || fail "callgrind: no events line"
	for fn in "$@"; do
		grep -F -x -q "fn=$fn" "$tmp/callgrind" || fail "callgrind: no fn=$fn"
	done
fi

if run graphviz --graphviz; then
	grep -q '^digraph profile' "$tmp/graphviz" || fail "graphviz: no digraph"
	[ $synthetic = 1 ] && names graphviz "$@"
fi

if run stackcollapse --stackcollapse; then
	names stackcollapse "$@"
	# one "a;b;c COUNT" line per raw record; counts add up to :samples
	sum=$(awk '{ s += $NF } END { print s + 0 }' "$tmp/stackcollapse")
	samples=$(sed -n 's/.*Samples: \([0-9]*\).*/\1/p' "$tmp/text")
	[ -n "$samples" ] && [ "$sum" != "$samples" ] &&
		fail "stackcollapse: counts add up to $sum, not $samples"
fi

if run flamegraph --flamegraph; then
	grep -q '^flamegraph(' "$tmp/flamegraph" || fail "flamegraph: no data"
	names flamegraph "$@"
fi

if run d3 --d3-flamegraph; then
	grep -q '<html' "$tmp/d3" || fail "d3-flamegraph: no html"
	names d3 "$@"
fi

if run json --json; then
	grep -q '"frames"' "$tmp/json" || fail "json: no frames"
	names json "$@"
	if command -v ruby >/dev/null 2>&1; then
		ruby -rjson -e 'd = JSON.parse(File.read(ARGV[0]))
			%w[mode frames raw raw_timestamp_deltas].each { |k|
				d.key?(k) or abort "json: no #{k} (speedscope needs it)" }
			n = 0; i = 0; r = d["raw"]
			while i < r.size; n += r[i + r[i] + 1]; i += r[i] + 2; end
			n == d["raw_timestamp_deltas"].size or
				abort "json: #{n} raw samples, " \
				      "#{d["raw_timestamp_deltas"].size} deltas"' \
			"$tmp/json" || fail "json: inconsistent for speedscope"
	fi
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed on $dump"
	exit 1
fi
echo "PASS: stackprof renders $dump in 8 formats"
exit 0
