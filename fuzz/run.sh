#!/bin/sh
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for
# FUZZ_SECONDS (default 30), seeded with the stackprof fixtures.  A crash
# leaves its input in fuzz/artifacts/; turn it into a regression test.
set -eu
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
OUT=${FUZZ_OUT:-$SRCDIR/fuzz/build}
SECS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "fuzz: $CC not found"; exit 77; }
mkdir -p "$OUT" "$SRCDIR/fuzz/artifacts"
LIBSRC="$SRCDIR/formats/marshal_read.c $SRCDIR/formats/json_read.c
$SRCDIR/formats/value.c $SRCDIR/formats/stackprof_read.c $SRCDIR/formats/json.c $SRCDIR/formats/sink.c
$SRCDIR/profiler/store.c $SRCDIR/profiler/store_import.c
$SRCDIR/profiler/symbols.c $SRCDIR/profiler/elf_file.c
$SRCDIR/profiler/dwarf_line.c $SRCDIR/profiler/dwarf_reader.c
$SRCDIR/profiler/maps.c
$SRCDIR/profiler/alloc.c $SRCDIR/profiler/log.c $SRCDIR/profiler/error.c"
for t in marshal_read json_read stackprof_read; do
	# shellcheck disable=SC2086 # word splitting of the source list
	$CC -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		-I"$SRCDIR/profiler" -I"$SRCDIR/formats" \
		"$SRCDIR/fuzz/fuzz_$t.c" $LIBSRC -o "$OUT/fuzz_$t" -lz -ldl
	corpus=$OUT/corpus_$t
	mkdir -p "$corpus"
	cp "$SRCDIR"/tests/fixtures/*.dump "$SRCDIR"/tests/fixtures/*.json \
		"$corpus"/ 2>/dev/null || true
	echo "fuzz: $t for ${SECS}s"
	"$OUT/fuzz_$t" -max_total_time="$SECS" -max_len=65536 \
		-artifact_prefix="$SRCDIR/fuzz/artifacts/$t-" "$corpus" \
		>"$OUT/$t.log" 2>&1 || { tail -40 "$OUT/$t.log"; exit 1; }
	grep -E '^Done|#[0-9]+.*DONE' "$OUT/$t.log" | tail -1 || true
done
echo "fuzz: no crash"
