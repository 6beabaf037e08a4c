#!/bin/sh
# ruby_gem_33.sh - the Ruby gem on Ruby 3.3 (the >= 3.3 code paths:
# rb_postponed_job_trigger, the bug #20197 probe and its helper-thread
# fallback, rb_profile_thread_frames, GVL hooks).  scripts/ruby33.sh
# builds a private Ruby 3.3 from Debian trixie's source package once
# (cached in its prefix); then ruby_gem.sh runs every check with it: the
# same tests/ruby/*.rb (test_gvl.rb holds the version-dependent
# expectations), the stackprof CLI (Debian's, on 3.1) on dumps written by
# 3.3, and strace (no signal, with and without the forced fallback).
# STILLPROF_SKIP_RUBY33=1 skips (77) instead of building; a failed
# download or build is a failure, not a skip.
# Exit: 0 pass, 1 fail, 77 skip, 99 harness error.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ "${STILLPROF_SKIP_RUBY33:-0}" != 0 ]; then
	echo "SKIP: STILLPROF_SKIP_RUBY33 set"
	exit 77
fi
start=$(date +%s)
out=$(sh "$SRCDIR/scripts/ruby33.sh") || {
	echo "FAIL: scripts/ruby33.sh could not provide Ruby 3.3 (see above)"
	exit 1
}
RUBY=$(printf '%s\n' "$out" | tail -1)
echo "ruby33.sh: $RUBY after $(($(date +%s) - start)) s"
case $("$RUBY" -e 'print RUBY_VERSION' 2>/dev/null) in
3.[3-9]*|[4-9].*) ;;
*) echo "FAIL: $RUBY is not Ruby >= 3.3"; exit 1 ;;
esac
RUBY=$RUBY exec sh "$SRCDIR/tests/integration/ruby_gem.sh"
