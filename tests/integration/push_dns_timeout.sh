#!/bin/sh
# push_dns_timeout.sh - STILLPROF_PUSH_URL with a host name whose lookup
# never completes: the push thread gives up at its connect deadline (the
# lookup is bounded too, http_resolve.c) and the program exits promptly,
# profiled, instead of waiting out the resolver.  The resolver is
# redirected in a private mount namespace (unshare -m, a bind mount over
# /etc/resolv.conf that only the test program sees) to 127.0.0.9:53, where
# a UDP socket started by the test reads queries and never answers; the
# machine's /etc is never changed.  The stop bound asserted (25 s) is far
# below what the resolver would take (timeout:30 attempts:2).
# Exit 0 pass, 1 fail, 77 skip (not root, no unshare/python3, no perf),
# 99 setup.

. "$(dirname "$0")/controls_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for unshare -m"; exit 77; }
for c in python3 unshare mount; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: no $c"; exit 77; }
done
unshare -m true 2>/dev/null || { echo "SKIP: unshare -m refused"; exit 77; }
perf_usable || { echo "SKIP: perf_event_open unusable"; exit 77; }

r=$T/dns
mkdir -p "$r"
timeout 120 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.9", 53))
open(sys.argv[1], "w").write("up")
n = 0
while True:
    s.recvfrom(4096)
    n += 1
    open(sys.argv[2], "w").write(str(n))
' "$r/up" "$r/queries" 2>"$r/err" &
PIDS="$PIDS $!"
wait_for test -s "$r/up" || { echo "ERROR: DNS sink: $(cat "$r/err")"; exit 99; }
printf 'nameserver 127.0.0.9\noptions timeout:30 attempts:2\n' >"$r/resolv.conf"
cat >"$r/wrap.sh" <<WRAP
#!/bin/sh
mount --bind "$r/resolv.conf" /etc/resolv.conf || exit 99
exec "\$@"
WRAP
chmod +x "$r/wrap.sh"

d=$T/app
WRAP="unshare -m $r/wrap.sh"
start_app "$d" STILLPROF_PERIOD=1 STILLPROF_OUT="$d/p-%t.folded" \
	STILLPROF_LOG=warn \
	STILLPROF_PUSH_URL="http://push.stillprof-test:4040/ingest" ||
	{ echo "ERROR: app did not start: $(cat "$d/stderr")"; exit 99; }
WRAP=
# The first period's push is looking the name up.
wait_for test -s "$r/queries" || fail "no DNS query reached the sink"
t0=$(date +%s%N)
stop_app "$d"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "stop with a push stuck in DNS: $ms ms"
[ "$APP_STATUS" = 0 ] || fail "exit status $APP_STATUS"
[ "$ms" -lt 25000 ] || fail "stop took $ms ms (the lookup was not bounded)"
grep -q 'push: connect push.stillprof-test:4040: Connection timed out' \
	"$d/stderr" || fail "no timeout warning: $(head -c 400 "$d/stderr")"
ls "$d" | grep -q '^p-.*folded$' || fail "no periodic profile written"

finish push_dns_timeout
