#!/bin/sh
# write_full_disk.sh - writing a profile to a full file system (a 64 KiB
# tmpfs mounted in a private mount namespace): `stillprof record` reports
# "No space left on device", leaves no partial or temporary file, and the
# previous profile at that path survives byte for byte.  Also: the
# --max-* bounds reach the dump's metadata, and a bad bound is refused.
#
# Needs root and unshare(1) for the mount: skipped (77) with the reason
# otherwise.  Exit 0 pass, 1 fail, 77 skip, 99 setup error.

BUILDDIR=${BUILDDIR:-.}
BUILDDIR=$(cd "$BUILDDIR" && pwd) || { echo "ERROR: no BUILDDIR"; exit 99; }
STILLPROF=${STILLPROF:-$BUILDDIR/stillprof}
case $STILLPROF in /*) ;; *) STILLPROF=$(pwd)/$STILLPROF ;; esac
[ -x "$STILLPROF" ] || { echo "ERROR: $STILLPROF is not built"; exit 99; }
command -v timeout >/dev/null 2>&1 || { echo "ERROR: no timeout(1)"; exit 99; }

T=$(mktemp -d "${TMPDIR:-/tmp}/write_full_disk.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT

# A bad bound is refused before COMMAND runs.
if timeout 60 "$STILLPROF" record --max-stacks 12x --out "$T/bad.dump" \
	-- touch "$T/ran" 2>"$T/bad.err"; then
	echo "FAIL: --max-stacks 12x accepted"; exit 1
fi
grep -q 'max-stacks' "$T/bad.err" || { echo "FAIL: no message"; cat "$T/bad.err"; exit 1; }
[ ! -e "$T/ran" ] || { echo "FAIL: COMMAND ran despite a bad flag"; exit 1; }

# The bounds reach the profile.
if ! timeout 60 "$STILLPROF" record --max-depth 9 --max-stacks 77 \
	--max-samples 1234 --out "$T/b.json" -- true 2>"$T/b.err"; then
	if grep -q 'cannot profile' "$T/b.err"; then
		echo "SKIP: $(cat "$T/b.err")"; exit 77
	fi
	echo "FAIL: record with bounds"; cat "$T/b.err"; exit 1
fi
for kv in '"max_depth":9' '"max_stacks":77' '"max_samples":1234' \
	'"stack_limit":0' '"sample_limit":0'; do
	grep -q "$kv" "$T/b.json" || { echo "FAIL: $kv not in metadata"; exit 1; }
done

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: full-disk check needs root to mount a tmpfs (uid $(id -u))"
	exit 77
fi
command -v unshare >/dev/null 2>&1 || { echo "SKIP: no unshare(1)"; exit 77; }
if ! unshare -m true 2>/dev/null; then
	echo "SKIP: unshare -m not permitted here"; exit 77
fi

export STILLPROF T
# shellcheck disable=SC2016 # expanded by the inner shell
timeout 120 unshare -m sh -c '
	set -u
	M=$T/mnt
	mkdir "$M" || exit 99
	mount -t tmpfs -o size=64k,mode=0755 stillprof-test "$M" || exit 77
	# 1. a first profile fits
	"$STILLPROF" record --out "$M/p.dump" -- true 2>"$T/first.err" ||
		{ echo "FAIL: first record"; cat "$T/first.err"; exit 1; }
	[ -s "$M/p.dump" ] || { echo "FAIL: no first profile"; exit 1; }
	cp "$M/p.dump" "$T/first.dump"
	# 2. fill the file system to the last block
	dd if=/dev/zero of="$M/fill" bs=4096 2>/dev/null
	# 3. the second write fails cleanly; COMMAND still exits 0
	"$STILLPROF" record --out "$M/p.dump" -- true 2>"$T/second.err" ||
		{ echo "FAIL: record exit status"; cat "$T/second.err"; exit 1; }
	grep -q "No space left on device" "$T/second.err" ||
		{ echo "FAIL: no clear error"; cat "$T/second.err"; exit 1; }
	grep -q "p.dump" "$T/second.err" ||
		{ echo "FAIL: error does not name the file"; cat "$T/second.err"; exit 1; }
	cmp -s "$M/p.dump" "$T/first.dump" ||
		{ echo "FAIL: previous profile damaged"; exit 1; }
	left=$(ls -A "$M" | grep -v -x -e p.dump -e fill)
	[ -z "$left" ] || { echo "FAIL: left behind: $left"; exit 1; }
	echo "full disk: $(cat "$T/second.err")"
	umount "$M"
	exit 0
'
rc=$?
[ $rc = 0 ] && echo "PASS: full disk keeps the previous profile"
exit $rc
