#!/bin/sh
# pull_http.sh - STILLPROF_HTTP: `go tool pprof
# http://127.0.0.1:PORT/debug/pprof/profile?seconds=2` gets a profile of
# the running program with its busy function; the Unix socket variant is
# created mode 0600 and serves curl --unix-socket; a peer of another uid
# is refused (SO_PEERCRED; checked when running as root, by running the
# program as nobody); unknown paths get 404 and bad seconds 400; a
# non-loopback address is refused unless STILLPROF_HTTP_ANY_ADDR=1.
# Exit 0 pass, 1 fail, 77 skip (no perf, go, curl, python3), 99 setup.

. "$(dirname "$0")/controls_lib.sh"
for c in curl python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: no $c"; exit 77; }
done
have_go || { echo "SKIP: no go tool pprof"; exit 77; }
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- TCP loopback, go tool pprof pulls ----
port=$(free_port)
d=$T/tcp
start_app "$d" STILLPROF_HTTP="127.0.0.1:$port" STILLPROF_OUT="$d/x.folded" ||
	{ echo "ERROR: no start"; exit 99; }
grep -q . "$d/stderr" && fail "stderr: $(head -c 300 "$d/stderr")"
if pprof -raw "http://127.0.0.1:$port/debug/pprof/profile?seconds=2" \
	>"$d/raw" 2>"$d/pprof.err"; then
	grep -q controls_busy "$d/raw" || fail "pulled profile: no controls_busy"
	grep -q '^PeriodType: wall nanoseconds$' "$d/raw" ||
		fail "pulled profile: period type"
	n=$(awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 }
		s && /^ +[0-9]+ +[0-9]+:/ { c += $1 } END { print c + 0 }' "$d/raw")
	echo "pulled 2 s: $n samples"
	[ "$n" -gt 100 ] || fail "pulled profile: $n samples"
else
	fail "go tool pprof: $(head -c 400 "$d/pprof.err")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://127.0.0.1:$port/debug/pprof/heap")
[ "$code" = 404 ] || fail "unknown path: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://127.0.0.1:$port/debug/pprof/profile?seconds=abc")
[ "$code" = 400 ] || fail "bad seconds: $code"
stop_app "$d"
[ "$APP_STATUS" = 0 ] || fail "tcp: exit status $APP_STATUS"

# ---- Unix socket: 0600, curl pulls ----
d=$T/unix
start_app "$d" STILLPROF_HTTP="unix:$d/sock" STILLPROF_OUT="$d/x.folded" ||
	{ echo "ERROR: no start"; exit 99; }
[ -S "$d/sock" ] || fail "no socket"
[ "$(stat -c %a "$d/sock")" = 600 ] || fail "socket mode $(stat -c %a "$d/sock")"
curl -s --max-time 20 --unix-socket "$d/sock" -o "$d/p.pb.gz" \
	-w '%{http_code}' "http://localhost/debug/pprof/profile?seconds=1" \
	>"$d/code"
[ "$(cat "$d/code")" = 200 ] || fail "unix: HTTP $(cat "$d/code")"
pprof -raw "$d/p.pb.gz" 2>/dev/null | grep -q controls_busy ||
	fail "unix: no controls_busy in the profile"
stop_app "$d"
[ -e "$d/sock" ] && fail "unix: socket left after exit"

# ---- another uid is refused (needs root to switch users) ----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	d=$T/peer
	mkdir -p "$d"
	chmod 777 "$d" "$T"
	if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		WRAP="setpriv --reuid=65534 --regid=65534 --clear-groups" \
			start_app "$d" STILLPROF_HTTP="unix:$d/sock" \
			STILLPROF_OUT="$d/x.folded" ||
			{ echo "ERROR: no start as nobody"; exit 99; }
		if grep -q "not profiling" "$d/stderr"; then
			echo "note: nobody cannot profile here: $(cat "$d/stderr")"
		else
			# root may connect despite 0600: SO_PEERCRED refuses.
			code=$(curl -s -o /dev/null -w '%{http_code}' \
				--max-time 10 --unix-socket "$d/sock" \
				"http://localhost/debug/pprof/profile?seconds=1")
			[ "$code" = 403 ] ||
				fail "peer uid 0 against a nobody server: $code"
		fi
		stop_app "$d"
	fi
else
	echo "note: not root: SO_PEERCRED refusal not exercised"
fi

# ---- non-loopback refused unless opted in ----
d=$T/any
start_app "$d" STILLPROF_HTTP="0.0.0.0:$(free_port)" STILLPROF_OUT="$d/x.folded" ||
	fail "0.0.0.0: the program did not run"
stop_app "$d"
grep -q 'not profiling: 0.0.0.0:.*not a loopback address' "$d/stderr" ||
	fail "0.0.0.0: $(cat "$d/stderr")"
d=$T/any2
port=$(free_port)
start_app "$d" STILLPROF_HTTP="0.0.0.0:$port" STILLPROF_HTTP_ANY_ADDR=1 \
	STILLPROF_OUT="$d/x.folded" || fail "any addr: the program did not run"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://127.0.0.1:$port/debug/pprof/profile?seconds=1")
[ "$code" = 200 ] || fail "any addr opted in: $code"
stop_app "$d"

finish "pull: go tool pprof over TCP, Unix socket 0600 + SO_PEERCRED, loopback only"
