/*
 * report.h - `stillprof report`: read a stackprof dump (stillprof's or the
 * stackprof gem's, Marshal or JSON) and print or write a view of it.
 */
#ifndef SP_REPORT_H
#define SP_REPORT_H

#include <stdint.h>

struct sp_store;

/*
 * Entry point of `stillprof report`; argv holds the arguments after the
 * word "report" (argv[0] is the first of them, argc may be 0):
 *
 *   FILE [--text] [--thread TID|NAME] [--limit N]
 *
 * Prints to stdout, errors to stderr.  Returns the process exit status:
 * 0 success, 1 unreadable/corrupt dump or a thread it does not have,
 * 2 bad usage (including output options not supported yet).
 */
int sp_report_main(int argc, char **argv);

/*
 * A new resolved store with only the samples of the threads whose index
 * has keep[index] set: those threads, the stacks and frames they use
 * (frame ids kept), the same run info.  *out is freed with sp_store_free.
 * Returns 0 or -ENOMEM.
 */
int sp_report_select_threads(const struct sp_store *src, const uint8_t *keep,
                             struct sp_store **out);

#endif
