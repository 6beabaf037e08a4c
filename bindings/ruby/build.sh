#!/bin/sh
# Build the extension in place, so that `ruby -I bindings/ruby/lib -r
# stillprof` works from the source tree.  Usage: sh bindings/ruby/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${STILLPROF_RUBY_BUILD:-$here/ext/stillprof/build}
mkdir -p "$out"
cd "$out"
ruby "$here/ext/stillprof/extconf.rb" >/dev/null
make -s V=0 >/dev/null
cp stillprof_ext.so "$here/lib/stillprof/stillprof_ext.so"
echo "built $here/lib/stillprof/stillprof_ext.so"
