/*
 * cg_gcov_stream.h - the per-test coverage dump of covguard's host hooks (covguard_test.h,
 * covguard_unity.c, the framework hooks): ONE file per test case holding only the objects the
 * test touched, instead of libgcov's __gcov_dump(), which creates the folders of and writes
 * (open, lock, read back, write) a .gcda for EVERY instrumented object after every test.
 *
 * cg_gcov_stream_dump(dir, first, index) appends test <index>'s stream to the process's run file
 * <dir>/from-<first>.cgcovs (created once, exclusively, at the first dump; <first> is the first
 * test the process runs, so a restart after a crash gets its own file), then flushes it:
 *
 *     per test:  'T' u32 <index>  then the stream of covguard's Cortex-M runtime (cg_platform.c):
 *     "CGCOV1\n"
 *     per touched object:  'F' u32 n <gcda path: n bytes>   ('D' u32 n <n data bytes>)...   'E'
 *     at the end:          'Z' u32 <number of objects written>
 *
 * (u32 little-endian).  One file per process, not per test: creating a file costs more than a
 * test (ext4: 0.4 ms an openat under load).  An object is written when one of its counters is
 * nonzero; its bytes are exactly the .gcda libgcov would write (GCC's own __gcov_info_to_gcda),
 * so covguard checks them against the notes as it checks any .gcda (stamp, checksums, counter
 * counts).  An object missing from a test's stream was not touched: all its counters are zero for
 * that test.  The 'Z' trailer says the stream is complete: a test whose stream is missing or cut
 * short did not bring its coverage back, which covguard reports, never as "touched nothing".  A
 * run file that exists already (another process wrote it) makes the dump print a "profiling:"
 * complaint on stderr, which covguard's runner turns into an error.
 *
 * The objects are found through libgcov's own list (__gcov_master: every instrumented object of
 * the executable and of its instrumented shared libraries, as __gcov_dump walks it), whose layout
 * is GCC 12's and 13's.  With another compiler, or with COVGUARD_GCOV_DUMP_ALL set in the
 * environment, the hooks fall back to __gcov_dump() (a .gcda per object in <dir>/<index>/,
 * through GCOV_PREFIX).  After a stream is written every list is marked
 * dumped, as __gcov_dump() marks it, so libgcov's exit handler does not write the counters again;
 * the next __gcov_reset() clears the mark, so a test that calls exit() still has its counters
 * written by that handler into <dir>/<leaf>/ (GCOV_PREFIX), which covguard reads too.
 */
#ifndef CG_GCOV_STREAM_H
#define CG_GCOV_STREAM_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

void __gcov_dump(void);
void __gcov_reset(void);

#if defined(__GNUC__) && !defined(__clang__) && (__GNUC__ == 12 || __GNUC__ == 13) &&               \
    !defined(CG_GCOV_STREAM_OFF)
#define CG_GCOV_STREAM 1

/* libgcov.h of GCC 12/13 */
#define CG_GCOVS_COUNTERS 8
typedef long long cg_gcovs_type;
struct cg_gcovs_ctr_info {
    unsigned num;
    cg_gcovs_type *values;
};
struct cg_gcovs_info;
struct cg_gcovs_fn_info {
    const struct cg_gcovs_info *key;
    unsigned ident;
    unsigned lineno_checksum;
    unsigned cfg_checksum;
    struct cg_gcovs_ctr_info ctrs[1];
};
struct cg_gcovs_info {
    unsigned version;
    struct cg_gcovs_info *next;
    unsigned stamp;
    unsigned checksum;
    const char *filename;
    void (*merge[CG_GCOVS_COUNTERS])(cg_gcovs_type *, unsigned);
    unsigned n_functions;
    const struct cg_gcovs_fn_info *const *functions;
};
struct cg_gcovs_root {
    struct cg_gcovs_info *list;
    unsigned dumped : 1;
    unsigned run_counted : 1;
    struct cg_gcovs_root *next;
    struct cg_gcovs_root *prev;
};
struct cg_gcovs_master {
    unsigned version;
    struct cg_gcovs_root *root;
};
extern struct cg_gcovs_master __gcov_master;
void __gcov_info_to_gcda(const struct cg_gcovs_info *info, void (*filename_fn)(const char *, void *),
                         void (*dump_fn)(const void *, unsigned, void *),
                         void *(*allocate_fn)(unsigned, void *), void *arg);

struct cg_gcovs_out {
    FILE *file;
    unsigned used;
    unsigned char chunk[8192];
};

static __attribute__((unused)) int cg_gcovs_touched(const struct cg_gcovs_info *info)
{
    unsigned f;
    for (f = 0; f < info->n_functions; ++f) {
        const struct cg_gcovs_fn_info *fn = info->functions[f];
        const struct cg_gcovs_ctr_info *ctr;
        unsigned t;
        if (!fn || fn->key != info) continue;
        ctr = fn->ctrs;
        for (t = 0; t < CG_GCOVS_COUNTERS; ++t) {
            unsigned n;
            if (!info->merge[t]) continue;
            for (n = 0; n < ctr->num; ++n)
                if (ctr->values[n]) return 1;
            ++ctr;
        }
    }
    return 0;
}

static __attribute__((unused)) void cg_gcovs_head(FILE *f, char tag, unsigned value)
{
    unsigned char head[5];
    head[0] = (unsigned char)tag;
    head[1] = (unsigned char)(value & 0xFFu);
    head[2] = (unsigned char)((value >> 8) & 0xFFu);
    head[3] = (unsigned char)((value >> 16) & 0xFFu);
    head[4] = (unsigned char)((value >> 24) & 0xFFu);
    fwrite(head, 1, 5, f);
}

static __attribute__((unused)) void cg_gcovs_flush(struct cg_gcovs_out *s)
{
    if (!s->used) return;
    cg_gcovs_head(s->file, 'D', s->used);
    fwrite(s->chunk, 1, s->used, s->file);
    s->used = 0;
}

static __attribute__((unused)) void cg_gcovs_filename(const char *name, void *arg)
{
    struct cg_gcovs_out *s = (struct cg_gcovs_out *)arg;
    unsigned n = (unsigned)strlen(name);
    cg_gcovs_head(s->file, 'F', n);
    fwrite(name, 1, n, s->file);
}

static __attribute__((unused)) void cg_gcovs_data(const void *data, unsigned length, void *arg)
{
    struct cg_gcovs_out *s = (struct cg_gcovs_out *)arg;
    const unsigned char *p = (const unsigned char *)data;
    while (length) {
        unsigned room = (unsigned)sizeof s->chunk - s->used;
        unsigned n = length < room ? length : room;
        memcpy(s->chunk + s->used, p, n);
        s->used += n;
        p += n;
        length -= n;
        if (s->used == sizeof s->chunk) cg_gcovs_flush(s);
    }
}

/* value-profile counters need scratch memory; arc counters (--coverage) never ask */
static __attribute__((unused)) void *cg_gcovs_allocate(unsigned length, void *arg)
{
    (void)arg;
    return malloc(length);
}

/* append test <index>'s stream to this process's run file <dir>/from-<first>.cgcovs; 0 when
   written, -1 when not (the test then has no coverage, which covguard reports) */
static __attribute__((unused)) int cg_gcov_stream_dump(const char *dir, unsigned first, unsigned index)
{
    static struct cg_gcovs_out out; /* static: 8 KB off the test's stack */
    static int failed, dump_all = -1;
    struct cg_gcovs_root *root;
    unsigned objects = 0;
    if (dump_all < 0) dump_all = getenv("COVGUARD_GCOV_DUMP_ALL") != NULL;
    if (dump_all) { /* libgcov's own dump: every object into <dir>/<index>/ (GCOV_PREFIX) */
        __gcov_dump();
        return 0;
    }
    if (!out.file && !failed) {
        /* created once per process, exclusively: a file already there was written by another
           process (a stray or stale program run under this test run's coverage folder); say so
           as libgcov would, on stderr, where covguard looks for "profiling:" complaints */
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/from-%u.cgcovs", dir, first) >= sizeof path) {
            failed = 1;
            return -1;
        }
        out.file = fopen(path, "wbx");
        if (!out.file && errno == ENOENT) { /* the folder is not there: create it, as libgcov does */
            char *p;
            for (p = path + 1; *p; ++p) {
                if (*p != '/') continue;
                *p = 0;
                mkdir(path, 0777);
                *p = '/';
            }
            out.file = fopen(path, "wbx");
        }
        if (!out.file) {
            failed = 1;
            fprintf(stderr, "covguard: profiling:%s: cannot create this run's coverage data (%s)\n", path,
                    errno == EEXIST ? "it exists: another process wrote it" : strerror(errno));
        }
    }
    if (!out.file) return -1;
    out.used = 0;
    cg_gcovs_head(out.file, 'T', index);
    fwrite("CGCOV1\n", 1, 7, out.file);
    for (root = __gcov_master.root; root; root = root->next) {
        const struct cg_gcovs_info *info;
        for (info = root->list; info; info = info->next) {
            if (!cg_gcovs_touched(info)) continue;
            __gcov_info_to_gcda(info, cg_gcovs_filename, cg_gcovs_data, cg_gcovs_allocate, &out);
            cg_gcovs_flush(&out);
            fputc('E', out.file);
            ++objects;
        }
        root->dumped = 1; /* as __gcov_dump: the exit handler does not write these again */
    }
    cg_gcovs_head(out.file, 'Z', objects);
    /* on disk before the next test runs: a later crash loses nothing of this one */
    if (fflush(out.file) != 0 || ferror(out.file)) return -1;
    return 0;
}

#else /* another compiler: libgcov's own dump, every object into <dir>/<leaf>/ (GCOV_PREFIX) */

static __attribute__((unused)) int cg_gcov_stream_dump(const char *dir, unsigned first, unsigned index)
{
    (void)dir;
    (void)first;
    (void)index;
    __gcov_dump();
    return 0;
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* CG_GCOV_STREAM_H */
