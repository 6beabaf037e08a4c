#!/bin/sh
# Build the extension in place, so that `ruby -I bindings/ruby/lib -r
# stillprof` works from the source tree.  Usage: sh bindings/ruby/build.sh
# STILLPROF_RUBY_BUILD: object directory (default ext/stillprof/build);
# STILLPROF_RUBY_LIBOUT: where stillprof/stillprof_ext.so goes (default lib);
# RUBY: the ruby binary to build for (default: ruby from PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${STILLPROF_RUBY_BUILD:-$here/ext/stillprof/build}
lib=${STILLPROF_RUBY_LIBOUT:-$here/lib}
mkdir -p "$out" "$lib/stillprof"
cd "$out"
"${RUBY:-ruby}" "$here/ext/stillprof/extconf.rb" >/dev/null
make -s V=0 >/dev/null
cp stillprof_ext.so "$lib/stillprof/stillprof_ext.so"
echo "built $lib/stillprof/stillprof_ext.so"
