#!/bin/sh
# Build stillprof, profile the bundled demo program (threads that compute
# and threads blocked in poll, nanosleep and loopback recv), write a
# stackprof dump and print a report with the stackprof CLI.
set -eu
cd "$(dirname "$0")"
sh scripts/deps.sh
sh scripts/build.sh
./stillprof record --mode wall --interval 1000 --out demo.dump -- ./examples/demo 3
stackprof demo.dump --text --limit 25
