/*
 * test_symbols.c - symbols.c, elf_file.c and dwarf_line.c: functions of this
 * binary (name, object, file, lines), libc (.dynsym or libc6-dbg), the vDSO
 * image, C++ demangling when libstdc++ can be loaded, hand-built DWARF 4 and
 * 5 line programs, corrupt ELF images, OOM at every allocation, and the
 * cost of a cached lookup.
 *
 * Build with -g -O0 so this file has a line table and known_function_ stays
 * a real function.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dwarf_line.h"
#include "elf_file.h"
#include "internal.h"
#include "maps.h"
#include "symbols.h"

static int call_line;

__attribute__((noinline, noipa)) static uintptr_t return_address(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

/* gcc gives a function's entry the line of its opening brace. */
static const int known_fn_line = __LINE__ + 2;
__attribute__((noinline, noipa)) uintptr_t known_function_for_symbols(int x)
{
	volatile uintptr_t pc; /* volatile: no tail call at -O2 */

	call_line = __LINE__; pc = return_address();
	return pc + (uintptr_t)(x - x);
}

/* libc's own poll: under ASan, RTLD_DEFAULT finds the interceptor. */
static uintptr_t libc_poll(void)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *fn = libc ? dlsym(libc, "poll") : NULL;

	if (libc)
		dlclose(libc); /* only drops the reference NOLOAD took */
	return (uintptr_t)fn;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n;
}

struct fixture {
	struct sp_maps *maps;
	struct sp_symbols *sy;
	int fds;
};

static int setup(void **state)
{
	static struct fixture f;

	f.fds = count_fds();
	if (sp_maps_new(&f.maps) || sp_symbols_new(f.maps, &f.sy))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sp_symbols_free(f->sy);
	sp_maps_free(f->maps);
	/* Every ELF file is closed right after mmap. */
	return count_fds() == f->fds ? 0 : -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void test_symbols_own_function(void **state)
{
	struct fixture *f = *state;
	uintptr_t fn = (uintptr_t)known_function_for_symbols;
	uintptr_t ret = known_function_for_symbols(1);
	char exe[PATH_MAX];
	struct sp_symbol s;

	assert_non_null(realpath("/proc/self/exe", exe));
	/* The function's entry point. */
	assert_int_equal(sp_symbols_lookup(f->sy, fn, &s), 0);
	assert_non_null(s.name);
	assert_string_equal(s.name, "known_function_for_symbols");
	assert_string_equal(s.object, exe);
	assert_non_null(s.file);
	assert_true(ends_with(s.file, "test_symbols.c"));
	assert_true(s.file[0] == '/'); /* joined with the comp dir */
	assert_int_equal(s.start, fn);
	assert_int_equal(s.fn_line, known_fn_line);
	/* -O0 has one row at the entry; optimized builds add the first
	 * statement's line at the same address, and the last row wins. */
	assert_in_range(s.line, known_fn_line, call_line);

	/* A call site inside it, as an unwinder reports it. */
	assert_int_equal(sp_symbols_lookup(f->sy, ret - 1, &s), 0);
	assert_string_equal(s.name, "known_function_for_symbols");
	assert_int_equal(s.start, fn);
	assert_int_equal(s.fn_line, known_fn_line);
	assert_int_equal(s.line, call_line);

	/* Cached: same answer, same strings. */
	struct sp_symbol again;
	assert_int_equal(sp_symbols_lookup(f->sy, ret - 1, &again), 0);
	assert_ptr_equal(again.name, s.name);
	assert_ptr_equal(again.file, s.file);
	assert_int_equal(again.line, s.line);

	/* A static function too (.symtab only). */
	assert_int_equal(sp_symbols_lookup(f->sy, (uintptr_t)return_address,
	                                   &s), 0);
	assert_string_equal(s.name, "return_address");
}

static void test_symbols_libc_function(void **state)
{
	struct fixture *f = *state;
	uintptr_t poll_fn = libc_poll();
	struct sp_symbol s;

	assert_true(poll_fn != 0);
	assert_int_equal(sp_symbols_lookup(f->sy, poll_fn + 1, &s),
	                 0);
	assert_non_null(s.name);
	assert_string_equal(s.name, "poll");
	assert_non_null(strstr(s.object, "libc.so"));
	assert_int_equal(s.start, poll_fn);
	/* Without libc6-dbg the name comes from .dynsym: check that path
	 * directly. */
	const struct sp_object *so = sp_maps_find(f->maps, poll_fn);
	struct sp_elf *e;
	assert_non_null(so);
	assert_int_equal(sp_elf_open(so->path, &e), 0);
	assert_int_equal(sp_elf_load_funcs(e, 1), 0);
	const struct sp_elf_func *fn = sp_elf_lookup(e, poll_fn + 1 - so->base);
	assert_non_null(fn);
	assert_string_equal(fn->name, "poll");
	assert_int_equal(fn->addr + so->base, poll_fn);
	sp_elf_free(e);

	/* Lines only with libc6-dbg installed: report, do not require. */
	print_message("libc poll: file %s line %d fn_line %d\n",
	              s.file ? s.file : "(none)", s.line, s.fn_line);
}

static void test_symbols_no_object(void **state)
{
	struct fixture *f = *state;
	int on_stack = 0;
	struct sp_symbol s;

	assert_int_equal(sp_symbols_lookup(f->sy, (uintptr_t)&on_stack, &s),
	                 -ENOENT);
	assert_null(s.name);
	assert_string_equal(s.object, "");
	assert_int_equal(sp_symbols_lookup(f->sy, 16, &s), -ENOENT);
}

static void test_symbols_vdso(void **state)
{
	struct fixture *f = *state;
	const struct sp_object *vdso = NULL;
	int found = 0, named = 0;

	for (size_t i = 0; i < f->maps->n_objs; i++)
		if (f->maps->objs[i].is_vdso)
			vdso = &f->maps->objs[i];
	if (!vdso || !getauxval(AT_SYSINFO_EHDR))
		skip();
	/* Walk the vDSO text: its functions must come from its .dynsym. */
	for (uintptr_t pc = vdso->text_lo; pc < vdso->text_hi; pc += 4) {
		struct sp_symbol s;
		assert_int_equal(sp_symbols_lookup(f->sy, pc, &s), 0);
		assert_string_equal(s.object, "[vdso]");
		if (s.name) {
			named++;
			if (strstr(s.name, "clock_gettime"))
				found = 1;
		}
	}
	print_message("vdso: %d of %lu pcs named\n", named,
	              (unsigned long)((vdso->text_hi - vdso->text_lo) / 4));
	assert_true(found);
}

static void test_symbols_demangles_cxx(void **state)
{
	struct fixture *f = *state;
	struct sp_symbols *sy;
	struct sp_symbol s;
	void *lib = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
	void *fn;

	(void)f;
	if (!lib)
		skip();
	fn = dlsym(lib, "_ZNSt9exceptionD2Ev"); /* std::exception::~exception */
	if (!fn) {
		dlclose(lib);
		skip();
	}
	/* A new maps so that libstdc++ is listed right away. */
	struct sp_maps *maps;
	assert_int_equal(sp_maps_new(&maps), 0);
	assert_int_equal(sp_symbols_new(maps, &sy), 0);
	assert_int_equal(sp_symbols_lookup(sy, (uintptr_t)fn, &s), 0);
	assert_non_null(s.name);
	assert_non_null(strstr(s.name, "std::exception::~exception"));
	assert_non_null(strstr(s.object, "libstdc++"));
	sp_symbols_free(sy);
	sp_maps_free(maps);
	dlclose(lib);
}

/* DWARF 4 unit by hand: include_directories, file_names, special and
 * standard opcodes, two sequences out of address order. */
static void test_symbols_dwarf4_line_program(void **state)
{
	static const uint8_t prog[] = {
	    /* unit_length (patched), version 4, header_length (patched) */
	    0, 0, 0, 0, 4, 0, 0, 0, 0, 0,
	    1,          /* minimum_instruction_length */
	    1,          /* maximum_operations_per_instruction */
	    1,          /* default_is_stmt */
	    (uint8_t)-5, /* line_base */
	    14,         /* line_range */
	    13,         /* opcode_base */
	    0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1,
	    /* "./inc/../inc" normalizes to "inc" */
	    '.', '/', 'i', 'n', 'c', '/', '.', '.', '/', 'i', 'n', 'c', 0,
	    '/', 'a', 'b', 's', 0, 0,
	    'a', '.', 'c', 0, 0, 0, 0,
	    'b', '.', 'h', 0, 1, 0, 0,
	    'c', '.', 'h', 0, 2, 0, 0,
	    0,
	    /* program: sequence 2 first (0x2000), then sequence 1 */
	    0, 9, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, /* set_address 0x2000 */
	    4, 3,        /* file 3 (c.h) */
	    3, 0xe3, 0x00, /* line 100 (SLEB 99) */
	    1,           /* copy: 0x2000 line 100 */
	    2, 0x10,     /* advance_pc 16 */
	    0, 1, 1,     /* end_sequence at 0x2010 */
	    0, 9, 2, 0x00, 0x10, 0, 0, 0, 0, 0, 0, /* set_address 0x1000 */
	    1,           /* copy: 0x1000 line 1 a.c */
	    /* special: addr += 2, line += 1 -> adj = (1 - -5) + 14*2 = 34 */
	    13 + 34,     /* 0x1002 line 2 */
	    4, 2,        /* file 2 (inc/b.h) */
	    9, 4, 0,     /* fixed_advance_pc 4 -> 0x1006 */
	    3, 8,        /* line 10 */
	    1,           /* copy: 0x1006 line 10 b.h */
	    8,           /* const_add_pc: (255-13)/14 = 17 -> 0x1017 */
	    0, 1, 1,     /* end_sequence at 0x1017 */
	};
	uint8_t buf[sizeof(prog)];
	struct sp_line_sections s = {buf, sizeof(buf), NULL, 0, NULL, 0};
	struct sp_dwarf_lines *dl;
	uint32_t file;
	int line;
	char path[256];
	uint32_t unit_len = sizeof(prog) - 4;
	uint32_t hdr_len = 0;

	(void)state;
	memcpy(buf, prog, sizeof(prog));
	/* header_length runs from after itself to the program start, which
	 * is the first set_address. */
	for (size_t i = 10; i + 2 < sizeof(buf); i++)
		if (buf[i] == 0 && buf[i + 1] == 9 && buf[i + 2] == 2) {
			hdr_len = (uint32_t)(i - 10);
			break;
		}
	memcpy(buf, &unit_len, 4);
	memcpy(buf + 6, &hdr_len, 4);
	assert_int_equal(sp_dwarf_lines_new(&s, &dl), 0);
	assert_int_equal(sp_dwarf_lines_n_rows(dl), 6);

	assert_int_equal(sp_dwarf_lines_lookup(dl, 0xfff, &file, &line),
	                 -ENOENT);
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x1001, &file, &line), 0);
	assert_int_equal(line, 1);
	assert_int_equal(sp_dwarf_lines_path(dl, file, path, sizeof(path)), 0);
	assert_string_equal(path, "a.c"); /* comp dir unknown in v4 */
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x1002, &file, &line), 0);
	assert_int_equal(line, 2);
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x1016, &file, &line), 0);
	assert_int_equal(line, 10);
	assert_int_equal(sp_dwarf_lines_path(dl, file, path, sizeof(path)), 0);
	assert_string_equal(path, "inc/b.h");
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x1017, &file, &line),
	                 -ENOENT); /* gap between sequences */
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x200f, &file, &line), 0);
	assert_int_equal(line, 100);
	assert_int_equal(sp_dwarf_lines_path(dl, file, path, sizeof(path)), 0);
	assert_string_equal(path, "/abs/c.h");
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x2010, &file, &line),
	                 -ENOENT);
	assert_int_equal(sp_dwarf_lines_first_line(dl, 0x1006, 0x11, &line),
	                 0);
	assert_int_equal(line, 10);
	assert_int_equal(sp_dwarf_lines_first_line(dl, 0x1017, 0x10, &line),
	                 -ENOENT);
	assert_int_equal(sp_dwarf_lines_path(dl, 0, path, 3), -ENAMETOOLONG);
	sp_dwarf_lines_free(dl);

	/* Every truncation parses without reading past the end (valgrind). */
	for (size_t len = 0; len < sizeof(buf); len++) {
		uint8_t *cut = malloc(len ? len : 1);
		memcpy(cut, buf, len);
		s.line = cut;
		s.line_len = len;
		assert_int_equal(sp_dwarf_lines_new(&s, &dl), 0);
		sp_dwarf_lines_free(dl);
		free(cut);
	}
}

/* DWARF 5 unit by hand: directory/file entry formats with line_strp,
 * string, udata and data16 (MD5) forms; file index 0 = primary file. */
static void test_symbols_dwarf5_line_program(void **state)
{
	static const uint8_t line_str[] = "/build\0src\0main.c\0";
	static const uint8_t prog[] = {
	    0, 0, 0, 0, 5, 0, 8, 0, 0, 0, 0, 0,
	    1, 1, 1, (uint8_t)-5, 14, 13,
	    0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1,
	    1, 1, 0x1f,               /* dirs: path line_strp */
	    2, 0, 0, 0, 0, 7, 0, 0, 0, /* "/build", "src" */
	    3, 1, 0x08, 2, 0x0f, 5, 0x1e, /* files: path string, dir udata,
	                                    * MD5 data16 */
	    2,
	    'm', 'a', 'i', 'n', '.', 'c', 0, 1,
	    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    'x', '.', 'h', 0, 0,
	    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	    0, 9, 2, 0x00, 0x30, 0, 0, 0, 0, 0, 0, /* set_address 0x3000 */
	    4, 0,        /* file 0 */
	    3, 41,       /* line 42 */
	    1,
	    4, 1,        /* file 1 */
	    2, 4, 1,     /* 0x3004 line 42 x.h */
	    2, 4,
	    0, 1, 1,     /* end at 0x3008 */
	};
	uint8_t buf[sizeof(prog)];
	struct sp_line_sections s = {buf, sizeof(buf), line_str,
	                             sizeof(line_str), NULL, 0};
	struct sp_dwarf_lines *dl;
	uint32_t file, unit_len = sizeof(prog) - 4, hdr_len = 0;
	int line;
	char path[256];

	(void)state;
	memcpy(buf, prog, sizeof(prog));
	for (size_t i = 12; i + 2 < sizeof(buf); i++)
		if (buf[i] == 0 && buf[i + 1] == 9 && buf[i + 2] == 2) {
			hdr_len = (uint32_t)(i - 12);
			break;
		}
	memcpy(buf, &unit_len, 4);
	memcpy(buf + 8, &hdr_len, 4);
	assert_int_equal(sp_dwarf_lines_new(&s, &dl), 0);
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x3002, &file, &line), 0);
	assert_int_equal(line, 42);
	assert_int_equal(sp_dwarf_lines_path(dl, file, path, sizeof(path)), 0);
	assert_string_equal(path, "/build/src/main.c");
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x3007, &file, &line), 0);
	assert_int_equal(sp_dwarf_lines_path(dl, file, path, sizeof(path)), 0);
	assert_string_equal(path, "/build/x.h");
	assert_int_equal(sp_dwarf_lines_lookup(dl, 0x3008, &file, &line),
	                 -ENOENT);
	sp_dwarf_lines_free(dl);
}

/* Corrupt images per run; raise with -DFUZZ_ROUNDS=N for a longer soak. */
#ifndef FUZZ_ROUNDS
#define FUZZ_ROUNDS 600
#endif

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0) {
		rewind(fp);
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(fp);
	return buf;
}

/* Everything a reader can do with an image; must not crash or leak. */
static void exercise(struct sp_elf *e)
{
	struct sp_elf_data d;
	const uint8_t *id;
	size_t id_len;
	const char *name;
	uint32_t crc;

	for (int dyn = 0; dyn < 2; dyn++) {
		if (sp_elf_load_funcs(e, dyn) == 0) {
			for (uint64_t a = 0; a < 0x8000; a += 0x3f)
				sp_elf_lookup(e, a);
		}
	}
	sp_elf_build_id(e, &id, &id_len);
	sp_elf_debuglink(e, &name, &crc);
	sp_elf_has_section(e, ".symtab");
	if (sp_elf_section(e, ".debug_line", &d) == 0) {
		struct sp_elf_data ls, st;
		struct sp_dwarf_lines *dl;
		int have_ls = sp_elf_section(e, ".debug_line_str", &ls) == 0;
		int have_st = sp_elf_section(e, ".debug_str", &st) == 0;
		struct sp_line_sections s = {
		    d.data, d.len, have_ls ? ls.data : NULL,
		    have_ls ? ls.len : 0, have_st ? st.data : NULL,
		    have_st ? st.len : 0};
		if (sp_dwarf_lines_new(&s, &dl) == 0) {
			uint32_t file;
			int line;
			char path[PATH_MAX];
			for (uint64_t a = 0; a < 0x8000; a += 0x3f)
				if (!sp_dwarf_lines_lookup(dl, a, &file, &line))
					sp_dwarf_lines_path(dl, file, path,
					                    sizeof(path));
			sp_dwarf_lines_first_line(dl, 0x1000, 0x100, &line);
			sp_dwarf_lines_free(dl);
		}
		if (have_ls)
			sp_free(ls.owned);
		if (have_st)
			sp_free(st.owned);
		sp_free(d.owned);
	}
}

static void test_symbols_corrupt_elf(void **state)
{
	size_t len = 0, dl_off = 0, dl_len = 0;
	uint8_t *orig = read_file("/proc/self/exe", &len), *img;
	struct sp_elf_data d;
	struct sp_elf *e;
	char tmp[] = "/tmp/test_symbols_XXXXXX";
	int fd, n_ok = 0, rounds = FUZZ_ROUNDS;

	(void)state;
	assert_non_null(orig);
	assert_int_equal(sp_elf_open_mem(orig, len, &e), 0);
	assert_int_equal(sp_elf_section(e, ".debug_line", &d), 0);
	dl_off = (size_t)(d.data - orig);
	dl_len = d.len;
	sp_elf_free(e);
	img = malloc(len);
	assert_non_null(img);
	srand(12345);
	for (int round = 0; round < rounds; round++) {
		size_t n = len, lo = 0, span = len;
		int flips = 1 + rand() % 8;

		memcpy(img, orig, len);
		switch (round % 4) {
		case 0: /* ELF and program headers */
			span = 256;
			break;
		case 1: /* section header table and its neighbourhood */
			lo = len > 4096 ? len - 4096 : 0;
			span = len - lo;
			break;
		case 2: /* the line program */
			lo = dl_off;
			span = dl_len;
			break;
		default: /* truncation plus flips anywhere */
			n = (size_t)rand() % len;
			span = n ? n : 1;
			break;
		}
		for (int i = 0; i < flips && n; i++) {
			size_t at = lo + (size_t)rand() % span;
			if (at < n)
				img[at] = (uint8_t)rand();
		}
		/* An exact-size heap copy: valgrind flags any overread. */
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, img, n);
		if (sp_elf_open_mem(copy, n, &e) == 0) {
			n_ok++;
			exercise(e);
			sp_elf_free(e);
		}
		free(copy);
	}
	/* The file path too: truncated copies through mmap. */
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, orig, cut, 0), (ssize_t)cut);
		int err = sp_elf_open(tmp, &e);
		if (cut < sizeof(Elf64_Ehdr))
			assert_int_equal(err, -ENOEXEC);
		if (err == 0) {
			exercise(e);
			sp_elf_free(e);
		}
	}
	close(fd);
	unlink(tmp);
	assert_int_equal(sp_elf_open("/nonexistent/x", &e), -ENOENT);
	assert_int_equal(sp_elf_open("/proc/self", &e), -ENOEXEC);
	print_message("corrupt ELF: %d rounds, %d opened and exercised\n",
	              rounds, n_ok);
	free(img);
	free(orig);
}

/* objcopy makes a copy with zlib-compressed debug sections, whose
 * .debug_line must inflate to the original bytes. */
static void test_symbols_compressed_section(void **state)
{
	char tmp[] = "/tmp/test_symbols_z_XXXXXX", cmd[2 * PATH_MAX];
	char exe[PATH_MAX];
	struct sp_elf *plain, *z;
	struct sp_elf_data a, b;
	int fd = mkstemp(tmp);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* The path, not /proc/PID/exe: under valgrind only this process
	 * sees /proc/self/exe as the test binary. */
	assert_non_null(realpath("/proc/self/exe", exe));
	snprintf(cmd, sizeof(cmd),
	         "objcopy --compress-debug-sections=zlib '%s' %s 2>/dev/null",
	         exe, tmp);
	if (system(cmd) != 0) {
		unlink(tmp);
		skip();
	}
	assert_int_equal(sp_elf_open(exe, &plain), 0);
	assert_int_equal(sp_elf_open(tmp, &z), 0);
	assert_int_equal(sp_elf_section(plain, ".debug_line", &a), 0);
	assert_int_equal(sp_elf_section(z, ".debug_line", &b), 0);
	assert_null(a.owned);
	assert_non_null(b.owned); /* it was compressed */
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	sp_free(b.owned);
	/* OOM while inflating. */
	for (unsigned long n = 1;; n++) {
		sp_alloc_fail_at(n);
		int err = sp_elf_section(z, ".debug_line", &b);
		sp_alloc_fail_at(0);
		if (err == 0) {
			sp_free(b.owned);
			break;
		}
		assert_int_equal(err, -ENOMEM);
	}
	sp_elf_free(z);
	sp_elf_free(plain);
	unlink(tmp);
}

/* A library built here, stripped, with its debug info in .debug/ found
 * by .gnu_debuglink (no build-id, so that lookup cannot find it). */
static void test_symbols_debuglink(void **state)
{
	static const char src[] =
	    "__attribute__((noinline)) static int hidden_fn(int x)\n"
	    "{\n"
	    "\treturn x * 3;\n"
	    "}\n"
	    "void *get_hidden(void) { return (void *)hidden_fn; }\n";
	char dir[] = "/tmp/test_symbols_dl_XXXXXX", cmd[1024], path[512];
	struct sp_maps *maps;
	struct sp_symbols *sy;
	struct sp_symbol s;
	void *lib, *(*get)(void);
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.c", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(src, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && mkdir .debug && gcc -g -O0 -shared -fPIC "
	         "-Wl,--build-id=none -o full.so t.c && "
	         "objcopy --only-keep-debug full.so .debug/libt.debug && "
	         "objcopy --strip-all --add-gnu-debuglink=.debug/libt.debug "
	         "full.so libt.so", dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
		skip(); /* no gcc or objcopy */
	}
	snprintf(path, sizeof(path), "%s/libt.so", dir);
	lib = dlopen(path, RTLD_NOW);
	assert_non_null(lib);
	*(void **)&get = dlsym(lib, "get_hidden");
	assert_non_null(get);
	assert_int_equal(sp_maps_new(&maps), 0);
	assert_int_equal(sp_symbols_new(maps, &sy), 0);
	assert_int_equal(sp_symbols_lookup(sy, (uintptr_t)get() + 4, &s), 0);
	assert_string_equal(s.object, path);
	assert_non_null(s.name);
	assert_string_equal(s.name, "hidden_fn"); /* static: debug .symtab */
	assert_non_null(s.file);
	assert_true(ends_with(s.file, "/t.c"));
	assert_int_equal(s.fn_line, 2);
	assert_in_range(s.line, 2, 3);
	sp_symbols_free(sy);
	sp_maps_free(maps);
	dlclose(lib);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int same_symbol(const struct sp_symbol *a, const struct sp_symbol *b)
{
	return !strcmp(a->name ? a->name : "", b->name ? b->name : "") &&
	       !strcmp(a->object, b->object) &&
	       !strcmp(a->file ? a->file : "", b->file ? b->file : "") &&
	       a->start == b->start && a->line == b->line &&
	       a->fn_line == b->fn_line;
}

static void test_symbols_oom(void **state)
{
	struct fixture *f = *state;
	uintptr_t pcs[2] = {known_function_for_symbols(0) - 1,
	                    libc_poll()};
	struct sp_symbol want[2];
	unsigned long n;

	for (int i = 0; i < 2; i++)
		assert_int_equal(sp_symbols_lookup(f->sy, pcs[i], &want[i]),
		                 0);
	for (n = 1;; n++) {
		struct sp_symbols *sy;
		int err, done = 0;

		sp_alloc_fail_at(n);
		err = sp_symbols_new(f->maps, &sy);
		if (err == 0) {
			for (int i = 0; i < 2 && !err; i++) {
				struct sp_symbol got;
				err = sp_symbols_lookup(sy, pcs[i], &got);
				/* A failure is -ENOMEM, never a degraded
				 * answer. */
				if (!err)
					assert_true(same_symbol(&got, &want[i]));
			}
			/* After a failure the same object recovers. */
			if (err) {
				sp_alloc_fail_at(0);
				for (int i = 0; i < 2; i++) {
					struct sp_symbol got;
					assert_int_equal(sp_symbols_lookup(
					    sy, pcs[i], &got), 0);
					assert_true(same_symbol(&got, &want[i]));
				}
			} else {
				done = 1;
			}
			sp_symbols_free(sy);
		}
		sp_alloc_fail_at(0);
		if (err)
			assert_int_equal(err, -ENOMEM);
		if (done)
			break;
	}
	print_message("oom: succeeded once %lu allocations were allowed\n",
	              n - 1);
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 +
	       (double)(b->tv_nsec - a->tv_nsec);
}

static void test_symbols_cached_cost(void **state)
{
	struct fixture *f = *state;
	struct sp_symbols *sy;
	struct sp_symbol s;
	struct timespec t0, t1, t2;
	uintptr_t pc = libc_poll() + 2;
	uintptr_t base = (uintptr_t)known_function_for_symbols;
	const int iters = 1000000;

	assert_int_equal(sp_symbols_new(f->maps, &sy), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sp_symbols_lookup(sy, pc, &s), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("first libc lookup (load symbols + lines): %.2f ms\n",
	              elapsed_ns(&t0, &t1) / 1e6);
	for (int i = 0; i < 64; i++)
		assert_int_equal(sp_symbols_lookup(sy, base + (uintptr_t)i, &s),
		                 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < iters; i++)
		sp_symbols_lookup(sy, base + (uintptr_t)(i & 63), &s);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	print_message("cached lookup: %.1f ns\n", elapsed_ns(&t1, &t2) / iters);
	sp_symbols_free(sy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_symbols_own_function),
	    cmocka_unit_test(test_symbols_libc_function),
	    cmocka_unit_test(test_symbols_no_object),
	    cmocka_unit_test(test_symbols_vdso),
	    cmocka_unit_test(test_symbols_demangles_cxx),
	    cmocka_unit_test(test_symbols_dwarf4_line_program),
	    cmocka_unit_test(test_symbols_dwarf5_line_program),
	    cmocka_unit_test(test_symbols_corrupt_elf),
	    cmocka_unit_test(test_symbols_compressed_section),
	    cmocka_unit_test(test_symbols_debuglink),
	    cmocka_unit_test(test_symbols_oom),
	    cmocka_unit_test(test_symbols_cached_cost),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
