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

# Interactive parts: a driver script appended to a copy of the page uses
# the controls the way a user would (search, click to zoom, reset, thread
# selector, hover) and writes what the page showed into the DOM.
cp "$T/fg.html" "$T/drive.html"
cat >>"$T/drive.html" <<'DRIVER'
<pre id="selftest"></pre><script>
(function () {
	var out = [], $ = function (id) { return document.getElementById(id); };
	function boxNamed(s) {
		var all = document.querySelectorAll('.fg-box');
		for (var i = 0; i < all.length; i++)
			if (all[i].textContent === s) return all[i];
		return null;
	}
	function ev(el, type) { el.dispatchEvent(new MouseEvent(type,
		{bubbles: true, clientX: 10, clientY: 10})); }
	var n0 = document.querySelectorAll('.fg-box').length;
	out.push('start boxes=' + n0 + ' info=' + $('fg-info').textContent);
	var q = $('search');
	q.value = 'hash_block';
	q.dispatchEvent(new Event('input'));
	out.push('search matches=' + document.querySelectorAll('.fg-match').length +
		' info=' + $('fg-info').textContent);
	var b = boxNamed('hash_block');
	if (b) {
		ev(b, 'mousemove');
		out.push('tip display=' + $('fg-tip').style.display + ' text=' +
			$('fg-tip').textContent.replace(/\n/g, ' | '));
		ev(b, 'click');
	}
	out.push('zoom boxes=' + document.querySelectorAll('.fg-box').length +
		' info=' + $('fg-info').textContent);
	$('reset').click();
	out.push('reset boxes=' + document.querySelectorAll('.fg-box').length +
		' info=' + $('fg-info').textContent);
	var sel = $('thread');
	for (var i = 0; i < sel.options.length; i++)
		if (/^poller /.test(sel.options[i].textContent)) sel.value = sel.options[i].value;
	sel.dispatchEvent(new Event('change'));
	out.push('thread poller poll=' + (boxNamed('poll') ? 1 : 0) +
		' hash_block=' + (boxNamed('hash_block') ? 1 : 0) +
		' info=' + $('fg-info').textContent);
	$('selftest').textContent = out.join('\n');
})();
</script>
DRIVER
if ! chrome --dump-dom "file://$T/drive.html" >"$T/drive.dom" 2>"$T/drive.err"; then
	fail "chromium --dump-dom (driver) failed: $(tail -c 400 "$T/drive.err")"
else
	sed -n '/<pre id="selftest">/,/<\/pre>/p' "$T/drive.dom" |
	    sed 's/<[^>]*>//g' >"$T/selftest.txt"
	cat "$T/selftest.txt"
	# numbers the driver saw, checked here so a failure names the step
	start=$(sed -n 's/^start boxes=\([0-9]*\) .*/\1/p' "$T/selftest.txt")
	zoomed=$(sed -n 's/^zoom boxes=\([0-9]*\) .*/\1/p' "$T/selftest.txt")
	reset=$(sed -n 's/^reset boxes=\([0-9]*\) .*/\1/p' "$T/selftest.txt")
	if grep -Eq '^search matches=[1-9][0-9]* info=[0-9]+ samples, matched [0-9.]+%' \
	    "$T/selftest.txt" && ! grep -q 'matched 0%' "$T/selftest.txt"; then
		pass "search highlights hash_block and reports the matched share"
	else
		fail "search did not highlight hash_block"
	fi
	if grep -Eq '^tip display=block text=hash_block .*samples: [0-9]+ \(' \
	    "$T/selftest.txt"; then
		pass "hovering a box shows its tooltip with samples"
	else
		fail "no tooltip on hover"
	fi
	if grep -q '^zoom .*zoomed: hash_block' "$T/selftest.txt" &&
	    [ -n "$zoomed" ] && [ -n "$start" ] && [ "$zoomed" -lt "$start" ]; then
		pass "click zooms into hash_block ($start -> $zoomed boxes)"
	else
		fail "click did not zoom ($start -> $zoomed boxes)"
	fi
	if [ -n "$reset" ] && [ "$reset" = "$start" ] &&
	    ! grep -q '^reset .*zoomed' "$T/selftest.txt"; then
		pass "reset restores the full graph"
	else
		fail "reset did not restore the graph ($reset vs $start boxes)"
	fi
	if grep -q '^thread poller poll=1 hash_block=0 ' "$T/selftest.txt"; then
		pass "thread selector switches to the poller's graph"
	else
		fail "thread selector did not switch to the poller"
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
