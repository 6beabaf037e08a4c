#!/bin/sh
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for
# FUZZ_SECONDS (default 30): the dump readers (seeded with the stackprof
# fixtures), option/env parsing and the /proc parsers (FUZZ_TARGETS picks
# some: "config proc").  A crash
# leaves its input in fuzz/artifacts/; turn it into a regression test.
set -eu
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
OUT=${FUZZ_OUT:-$SRCDIR/fuzz/build}
SECS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "fuzz: $CC not found"; exit 77; }
mkdir -p "$OUT" "$SRCDIR/fuzz/artifacts"
LIBSRC="$SRCDIR/formats/marshal_read.c $SRCDIR/formats/json_read.c $SRCDIR/formats/read_error.c
$SRCDIR/formats/value.c $SRCDIR/formats/stackprof_read.c $SRCDIR/formats/stackprof_read_file.c $SRCDIR/formats/json.c $SRCDIR/formats/sink.c
$SRCDIR/profiler/store.c $SRCDIR/profiler/store_import.c $SRCDIR/profiler/store_threads.c
$SRCDIR/profiler/symbols.c $SRCDIR/profiler/elf_file.c
$SRCDIR/profiler/dwarf_line.c $SRCDIR/profiler/dwarf_reader.c
$SRCDIR/profiler/maps.c
$SRCDIR/profiler/alloc.c $SRCDIR/profiler/log.c $SRCDIR/profiler/error.c"
CONFIGSRC="$SRCDIR/profiler/config.c $SRCDIR/profiler/error.c
$SRCDIR/formats/format.c $SRCDIR/profiler/alloc.c $SRCDIR/profiler/log.c"
PROCSRC="$SRCDIR/profiler/proc_parse.c"

# Seeds for the targets without fixture files: option values (NUL
# separated, in the order of fuzz_config.c's variables) and the live /proc
# files of this shell, prefixed with the byte that picks the parser.
seed_config() {
	printf 'wall\0001000\0001\000128\00050000\0004000000\000out.dump' >"$1/all"
	printf 'cpu\000250\000off\0001\0000\0000\000x.pb.gz' >"$1/cpu"
	printf 'wal\0001e3\000maybe\0001025\000-1\00099999999999' >"$1/bad"
}
seed_proc() {
	{ printf '\000'; cat /proc/self/stat; } >"$1/stat" 2>/dev/null || true
	{ printf '\001'; cat /proc/self/comm; } >"$1/comm" 2>/dev/null || true
	{ printf '\002'; cat /proc/self/syscall; } >"$1/syscall" 2>/dev/null || true
	printf '\002running\n' >"$1/running"
	printf '\002-1 0x7ffe1234 0x401000\n' >"$1/runnable"
	printf '\0031234' >"$1/tid"
}

for t in ${FUZZ_TARGETS:-marshal_read json_read stackprof_read config proc}; do
	case $t in
	config) src=$CONFIGSRC ;;
	proc) src=$PROCSRC ;;
	*) src=$LIBSRC ;;
	esac
	# shellcheck disable=SC2086 # word splitting of the source list
	$CC -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined \
		-I"$SRCDIR/profiler" -I"$SRCDIR/formats" \
		"$SRCDIR/fuzz/fuzz_$t.c" $src -o "$OUT/fuzz_$t" -lz -ldl
	corpus=$OUT/corpus_$t
	mkdir -p "$corpus"
	case $t in
	config) seed_config "$corpus" ;;
	proc) seed_proc "$corpus" ;;
	*) cp "$SRCDIR"/tests/fixtures/*.dump "$SRCDIR"/tests/fixtures/*.json \
		"$corpus"/ 2>/dev/null || true ;;
	esac
	echo "fuzz: $t for ${SECS}s"
	"$OUT/fuzz_$t" -max_total_time="$SECS" -max_len=65536 \
		-artifact_prefix="$SRCDIR/fuzz/artifacts/$t-" "$corpus" \
		>"$OUT/$t.log" 2>&1 || { tail -40 "$OUT/$t.log"; exit 1; }
	grep -E '^Done|#[0-9]+.*DONE' "$OUT/$t.log" | tail -1 || true
done
echo "fuzz: no crash"
