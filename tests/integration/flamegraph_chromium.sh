#!/bin/sh
# flamegraph_chromium.sh - does `stillprof report --flamegraph` render in a
# real browser?  Records examples/demo, writes the flame graph, loads it in
# headless Chromium with networking features off and checks that the DOM
# after the page's script ran has boxes (class "fg-box", drawn by the JS,
# not just names in the JSON blob) for hash_block and poll, and takes a
# screenshot, kept as $BUILDDIR/tests/integration/flamegraph.png.
#
# Environment: BUILDDIR (default .), STILLPROF (default
# $BUILDDIR/stillprof), CHROMIUM (default chromium).
# Exit 0 pass, 1 fail, 77 skip (no chromium), 99 setup error.

BUILDDIR=${BUILDDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
STILLPROF=${STILLPROF:-$BUILDDIR/stillprof}
CHROMIUM=${CHROMIUM:-chromium}

if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	echo "SKIP: no $CHROMIUM (Debian chromium)"
	exit 77
fi
[ -x "$STILLPROF" ] || { echo "ERROR: $STILLPROF is not built"; exit 99; }
[ -x "$BUILDDIR/examples/demo" ] || { echo "ERROR: no examples/demo"; exit 99; }
command -v timeout >/dev/null 2>&1 || { echo "ERROR: no timeout(1)"; exit 99; }

T=$(mktemp -d "${TMPDIR:-/tmp}/flamegraph_chromium.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

chrome() {
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync \
	    --user-data-dir="$T/prof" "$@"
}

if ! timeout 60 "$STILLPROF" record --out "$T/d.dump" -- \
    "$BUILDDIR/examples/demo" 1 >"$T/rec.out" 2>&1; then
	echo "ERROR: stillprof record failed: $(head -c 300 "$T/rec.out")"
	exit 99
fi
if ! timeout 60 "$STILLPROF" report "$T/d.dump" --flamegraph "$T/fg.html" \
    >"$T/out" 2>"$T/err"; then
	fail "report --flamegraph exited non-zero: $(head -c 300 "$T/err")"
	exit 1
fi
pass "report --flamegraph wrote $(wc -c <"$T/fg.html") bytes"

if grep -Eq 'https?://' "$T/fg.html"; then
	fail "the page references the network: $(grep -Eo 'https?://[^"'\'' ]*' "$T/fg.html" | head -3)"
else
	pass "no http:// or https:// in the page"
fi

if ! chrome --dump-dom "file://$T/fg.html" >"$T/dom.html" 2>"$T/chrome.err"; then
	fail "chromium --dump-dom failed: $(tail -c 400 "$T/chrome.err")"
else
	n=$(grep -o 'class="fg-box"' "$T/dom.html" | wc -l)
	for fn in hash_block poll; do
		if grep -Eq "class=\"fg-box\"[^>]*>[^<]*$fn" "$T/dom.html"; then
			pass "rendered DOM has a $fn box ($n boxes)"
		else
			fail "rendered DOM has no $fn box ($n boxes)"
		fi
	done
	if grep -q '<option value="[0-9]*">poller (tid' "$T/dom.html"; then
		pass "thread selector lists the poller"
	else
		fail "thread selector lacks the poller"
	fi
fi

if chrome --screenshot="$T/fg.png" --window-size=1200,800 \
    "file://$T/fg.html" >"$T/shot.out" 2>&1 && [ -s "$T/fg.png" ]; then
	mkdir -p "$BUILDDIR/tests/integration" &&
	    cp "$T/fg.png" "$BUILDDIR/tests/integration/flamegraph.png" &&
	    pass "screenshot: $BUILDDIR/tests/integration/flamegraph.png"
else
	fail "chromium --screenshot failed: $(tail -c 400 "$T/shot.out")"
fi

[ "$failures" -eq 0 ] || exit 1
exit 0
