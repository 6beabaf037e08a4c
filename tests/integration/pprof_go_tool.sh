#!/bin/sh
# pprof_go_tool.sh - do real readers accept our pprof, JSON and collapsed
# output?  make_dump writes one synthetic store (3 threads x 70 samples)
# in every format, and:
#   - `go tool pprof` (Debian golang-go) reads the pprof file with -raw,
#     -top, -traces, -tags and -tagfocus: period, sample types, per-function
#     flat/cum times equal make_dump's expected counts, thread id and
#     thread name labels on every sample, 70ms per thread;
#   - the stackprof CLI (ruby-stackprof) prints the same --text report for
#     the JSON as for the Marshal dump, and its --json of the dump is our
#     JSON byte for byte;
#   - speedscope's stackprof importer finds mode, frames and
#     raw_timestamp_deltas, with one delta per sample;
#   - our collapsed stacks equal stackprof's --stackcollapse, summed.
#
# Exit 0 pass, 1 fail, 77 skip (no `go`; the other checks still run and
# can fail), 99 setup error.  MAKE_DUMP, GO and STACKPROF can be set.

GO=${GO:-go}
STACKPROF=${STACKPROF:-stackprof}

# Every external command is bounded, so a hung tool fails the test.
bounded() {
	timeout 120 "$@"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pprof_go_tool.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

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
set --
for f in stackprof json pprof collapsed collapsed-threads; do
	set -- "$@" --format $f "$tmp/p.$f"
done
bounded "$make_dump" "$@" >"$tmp/expected" || exit 99

# ---- go tool pprof ----
# pprof writes under $HOME/pprof and go may want a cache: keep both in
# $tmp, and never let go reach the network.
have_go=0
if command -v "$GO" >/dev/null 2>&1 &&
	bounded env HOME="$tmp" GOCACHE="$tmp/gocache" "$GO" tool -n pprof \
		>/dev/null 2>&1; then
	have_go=1
fi

pprof() {
	bounded env -u GOFLAGS HOME="$tmp" GOCACHE="$tmp/gocache" \
		PPROF_TMPDIR="$tmp" GOTOOLCHAIN=local GOPROXY=off \
		"$GO" tool pprof "$@" 2>"$tmp/pprof.err"
}

if [ $have_go = 1 ]; then
	if pprof -raw "$tmp/p.pprof" >"$tmp/raw"; then
		grep -q '^PeriodType: wall nanoseconds$' "$tmp/raw" ||
			fail "-raw: no wall/nanoseconds period type"
		grep -q '^Period: 1000000$' "$tmp/raw" || fail "-raw: period"
		grep -q '^samples/count wall/nanoseconds\[dflt\]$' "$tmp/raw" ||
			fail "-raw: sample types"
		# "   COUNT   NANOS: LOC..." then one line per label
		awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 }
			s && /^ +[0-9]+ +[0-9]+:/ { n++; c += $1; t += $2 }
			s && /thread id:\[/ { id++ }
			s && /thread name:\[/ { nm++ }
			END { if (c != 210 || t != 210000000 || n != id ||
			          n != nm) exit 1 }' "$tmp/raw" ||
			fail "-raw: not 210 samples, each with both labels"
	else
		fail "pprof -raw: $(head -c 300 "$tmp/pprof.err")"
	fi

	if pprof -top "$tmp/p.pprof" >"$tmp/top"; then
		grep -q 'Total samples = 210ms' "$tmp/top" ||
			fail "-top: total is not 210ms"
		grep -q '^Type: wall$' "$tmp/top" || fail "-top: type"
		# "flat flat% sum% cum cum% NAME" against make_dump's counts
		while read -r fn total self; do
			flat=${self}ms
			[ "$self" = 0 ] && flat=0
			awk -v fn="$fn" -v f="$flat" -v c="${total}ms" '
				$6 == fn && NF == 6 { found = 1
					if ($1 != f || $4 != c) bad = 1 }
				END { exit (found && !bad) ? 0 : 1 }' "$tmp/top" ||
				fail "-top: $fn is not flat $flat, cum ${total}ms"
		done <"$tmp/expected"
	else
		fail "pprof -top: $(head -c 300 "$tmp/pprof.err")"
	fi

	if pprof -traces "$tmp/p.pprof" >"$tmp/traces"; then
		# a separator above every trace and one after the last
		n=$(($(grep -c -- '-----------+' "$tmp/traces") - 1))
		l=$(grep -c '^ *thread id: ' "$tmp/traces")
		if [ "$n" -lt 9 ] || [ "$n" != "$l" ]; then
			fail "-traces: $n traces, $l with thread id"
		fi
		for t in main worker-1 worker-2; do
			grep -q "^ *thread name:  $t\$" "$tmp/traces" ||
				fail "-traces: no thread name $t"
		done
	else
		fail "pprof -traces: $(head -c 300 "$tmp/pprof.err")"
	fi

	if pprof -tags "$tmp/p.pprof" >"$tmp/tags"; then
		for t in main worker-1 worker-2 4000 4001 4002; do
			grep -q "70.0ms (33.33%): $t\$" "$tmp/tags" ||
				fail "-tags: $t is not 70ms"
		done
		grep -q 'thread name: Total 210.0ms' "$tmp/tags" ||
			fail "-tags: thread name total"
	else
		fail "pprof -tags: $(head -c 300 "$tmp/pprof.err")"
	fi

	if pprof -top -tagfocus="thread name=worker-1" "$tmp/p.pprof" \
		>"$tmp/focus"; then
		grep -q 'accounting for 70ms' "$tmp/focus" ||
			fail "-tagfocus thread name=worker-1: not 70ms"
	else
		fail "pprof -tagfocus: $(head -c 300 "$tmp/pprof.err")"
	fi
else
	echo "SKIP (go tool pprof checks): no go command (Debian golang-go)"
fi

# ---- stackprof CLI on the JSON ----
if command -v "$STACKPROF" >/dev/null 2>&1; then
	if bounded "$STACKPROF" "$tmp/p.stackprof" --text --limit 1000 \
		>"$tmp/text.dump" 2>&1 &&
		bounded "$STACKPROF" "$tmp/p.json" --text --limit 1000 \
			>"$tmp/text.json" 2>&1; then
		grep -q 'Samples: 210 ' "$tmp/text.json" ||
			fail "stackprof --text on JSON: not 210 samples"
		cmp -s "$tmp/text.dump" "$tmp/text.json" ||
			fail "stackprof --text differs between dump and JSON"
	else
		fail "stackprof --text: $(head -c 300 "$tmp/text.json")"
	fi
	if bounded "$STACKPROF" "$tmp/p.stackprof" --json >"$tmp/cli.json"; then
		cmp -s "$tmp/cli.json" "$tmp/p.json" ||
			fail "stackprof --json of the dump differs from our JSON"
	else
		fail "stackprof --json failed"
	fi
	if bounded "$STACKPROF" "$tmp/p.stackprof" --stackcollapse \
		>"$tmp/stackcollapse"; then
		awk '{ c = $NF; sub(/ [0-9]+$/, ""); s[$0] += c }
			END { for (k in s) print k, s[k] }' "$tmp/stackcollapse" |
			LC_ALL=C sort >"$tmp/sc.sorted"
		LC_ALL=C sort "$tmp/p.collapsed" | cmp -s - "$tmp/sc.sorted" ||
			fail "collapsed differs from stackprof --stackcollapse"
	else
		fail "stackprof --stackcollapse failed"
	fi
else
	echo "SKIP (stackprof checks): no stackprof command (ruby-stackprof)"
fi

# collapsed with threads: one root per thread, 70 samples each
awk '{ split($1, f, ";"); s[f[1]] += $NF }
	END { if (s["main-4000"] != 70 || s["worker-1-4001"] != 70 ||
	          s["worker-2-4002"] != 70 || length(s) != 3) exit 1 }' \
	"$tmp/p.collapsed-threads" || fail "collapsed-threads: roots/counts"

# ---- speedscope's stackprof importer: detection keys, one delta/sample ----
if command -v ruby >/dev/null 2>&1; then
	bounded ruby -rjson -e 'd = JSON.parse(File.read(ARGV[0]))
		%w[mode frames raw_timestamp_deltas].each { |k|
			d.key?(k) or abort "no #{k} (speedscope detection)" }
		d["mode"] == "wall" or abort "mode #{d["mode"].inspect}"
		n = 0; i = 0; r = d["raw"]
		while i < r.size
			r[i + 1, r[i]].each { |id| d["frames"].key?(id.to_s) or
				abort "raw id #{id} not in frames" }
			n += r[i + r[i] + 1]; i += r[i] + 2
		end
		[n, d["raw_timestamp_deltas"].size].uniq == [d["samples"]] or
			abort "#{n} raw samples, #{d["raw_timestamp_deltas"].size} " \
			      "deltas, #{d["samples"]} samples"' "$tmp/p.json" ||
		fail "JSON is not what speedscope expects"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
if [ $have_go = 0 ]; then
	echo "SKIP: no go tool pprof (other checks passed)"
	exit 77
fi
echo "PASS: go tool pprof, stackprof and speedscope checks on all formats"
exit 0
