/*
 * cg_platform.c - the platform hooks of covguard's test harness (covguard_test.h) on a Cortex-M
 * target with semihosting: console output, a clock, per-test coverage and the first test to run.
 *
 * covguard starts each test image as
 *     qemu-system-arm ... -semihosting-config enable=on,target=native,arg=<image>,arg=<first>,arg=@<nonce>,arg=<dir>
 * and the image reads that command line through semihosting (SYS_GET_CMDLINE): <first> is the
 * index of the first test to run (covguard restarts an image after a test that hung or faulted)
 * and <dir> the host folder for coverage (the rest of the line, so it may hold spaces).  Without
 * them (an image started by hand) every test runs and no coverage is written.
 *
 * Per-test coverage.  The instrumented objects are compiled with -fprofile-info-section=gcov_info:
 * GCC puts a pointer to each object's gcov_info in that section, and libgcov's freestanding
 * __gcov_info_to_gcda() turns one gcov_info into the bytes of its .gcda file (Debian's
 * arm-none-eabi libgcov has no file I/O of its own).  Before test <i> the counters are zeroed;
 * after it every object's .gcda is written into one stream file on the host,
 * <dir>/<i>.cgcov (semihosting cannot create folders):
 *
 *     "CGCOV1\n"
 *     per object:  'F' u32 n <gcda path: n bytes>   ('D' u32 n <n data bytes>)...   'E'
 *     at the end:  'Z' u32 <number of objects>
 *
 * (u32 little-endian).  covguard unpacks it into <dir>/<i>/<gcda path>, the layout of a host
 * run; a stream without its 'Z' trailer (the image died while writing) is refused.
 */
#include "cg_semihost.h"

#ifndef CG_NO_HOSTED_PLATFORM
#define CG_NO_HOSTED_PLATFORM 1
#endif
#include "covguard_test.h"

#if !defined(__GNUC__) || (__GNUC__ != 12 && __GNUC__ != 13)
/* zeroing the counters walks GCC's struct gcov_info, whose layout is GCC 12's and 13's */
#error "covguard's Cortex-M runtime supports arm-none-eabi-gcc 12 and 13"
#endif

/* ---- console: one semihosting call per line ---------------------------------------------- */
static char cg_line[256];
static unsigned cg_line_len;

void cg_target_flush(void)
{
    if (cg_line_len) {
        cg_line[cg_line_len] = 0;
        cg_semihost(CG_SH_WRITE0, cg_line);
        cg_line_len = 0;
    }
}

__attribute__((weak)) void cg_platform_putc(char c)
{
    cg_line[cg_line_len++] = c;
    if (c == '\n' || cg_line_len == sizeof cg_line - 1) cg_target_flush();
}

/* SYS_CLOCK: centiseconds since the image started */
__attribute__((weak)) unsigned long long cg_platform_time_us(void)
{
    int cs = cg_semihost(CG_SH_CLOCK, 0);
    return cs > 0 ? (unsigned long long)cs * 10000ull : 0ull;
}

/* ---- command line ------------------------------------------------------------------------- */
static char cg_cmdline[1024];
static const char *cg_coverage_dir; /* NULL: no coverage */
static unsigned cg_first;
static const char *cg_nonce; /* NULL: none (an image started by hand) */

static void cg_read_cmdline(void)
{
    static int done;
    struct {
        char *buffer;
        unsigned size;
    } block;
    char *p;
    unsigned skip;
    if (done) return;
    done = 1;
    block.buffer = cg_cmdline;
    block.size = sizeof cg_cmdline - 1;
    if (cg_semihost(CG_SH_GET_CMDLINE, &block) != 0) return;
    cg_cmdline[block.size < sizeof cg_cmdline ? block.size : sizeof cg_cmdline - 1] = 0;
    p = cg_cmdline;
    for (skip = 0; skip < 1; ++skip) { /* the image name */
        while (*p && *p != ' ') ++p;
        while (*p == ' ') ++p;
    }
    if (*p < '0' || *p > '9') return;
    while (*p >= '0' && *p <= '9') cg_first = cg_first * 10u + (unsigned)(*p++ - '0');
    while (*p == ' ') ++p;
    if (*p == '@') { /* the run's nonce: "@<hex>" */
        cg_nonce = ++p;
        while (*p && *p != ' ') ++p;
        if (*p) *p++ = 0;
        while (*p == ' ') ++p;
    }
    if (*p) cg_coverage_dir = p;
}

__attribute__((weak)) const char *cg_platform_nonce(void)
{
    cg_read_cmdline();
    return cg_nonce;
}

__attribute__((weak)) unsigned cg_platform_first_test(void)
{
    cg_read_cmdline();
    return cg_first;
}

/* ---- GCC's coverage records (libgcov.h of GCC 12/13) -------------------------------------- */
#define CG_GCOV_COUNTERS 8
typedef unsigned cg_gcov_unsigned;
typedef long long cg_gcov_type;
struct cg_gcov_ctr_info {
    cg_gcov_unsigned num;
    cg_gcov_type *values;
};
struct cg_gcov_fn_info {
    const struct cg_gcov_info *key;
    cg_gcov_unsigned ident;
    cg_gcov_unsigned lineno_checksum;
    cg_gcov_unsigned cfg_checksum;
    struct cg_gcov_ctr_info ctrs[1];
};
struct cg_gcov_info {
    cg_gcov_unsigned version;
    struct cg_gcov_info *next;
    cg_gcov_unsigned stamp;
    cg_gcov_unsigned checksum;
    const char *filename;
    void (*merge[CG_GCOV_COUNTERS])(cg_gcov_type *, cg_gcov_unsigned);
    cg_gcov_unsigned n_functions;
    const struct cg_gcov_fn_info *const *functions;
};

extern const struct cg_gcov_info *const __start_gcov_info[] __attribute__((weak));
extern const struct cg_gcov_info *const __stop_gcov_info[] __attribute__((weak));

/* gcov.h of GCC 12: the dump callback comes before the allocator */
extern void __gcov_info_to_gcda(const struct cg_gcov_info *info,
                                void (*filename_fn)(const char *, void *),
                                void (*dump_fn)(const void *, unsigned, void *),
                                void *(*allocate_fn)(unsigned, void *), void *arg);

static void cg_zero_counters(void)
{
    const struct cg_gcov_info *const *entry;
    for (entry = __start_gcov_info; entry && entry < __stop_gcov_info; ++entry) {
        const struct cg_gcov_info *info = *entry;
        unsigned f;
        if (!info) continue;
        for (f = 0; f < info->n_functions; ++f) {
            const struct cg_gcov_fn_info *fn = info->functions[f];
            const struct cg_gcov_ctr_info *ctr;
            unsigned t;
            if (!fn || fn->key != info) continue;
            ctr = fn->ctrs;
            for (t = 0; t < CG_GCOV_COUNTERS; ++t) {
                unsigned n;
                if (!info->merge[t]) continue;
                for (n = 0; n < ctr->num; ++n) ctr->values[n] = 0;
                ++ctr;
            }
        }
    }
}

/* ---- the stream file ---------------------------------------------------------------------- */
struct cg_stream {
    int handle;
    int failed;
    unsigned used;
    unsigned char chunk[4096];
};

static struct cg_stream cg_out;

static void cg_stream_raw(struct cg_stream *s, const void *data, unsigned length)
{
    struct {
        int handle;
        const void *data;
        unsigned length;
    } block;
    if (s->failed || !length) return;
    block.handle = s->handle;
    block.data = data;
    block.length = length;
    if (cg_semihost(CG_SH_WRITE, &block) != 0) s->failed = 1; /* returns the bytes NOT written */
}

/* a tag and a u32 (a length, or the object count of 'Z') */
static void cg_stream_head(struct cg_stream *s, char tag, unsigned value)
{
    unsigned char head[5];
    head[0] = (unsigned char)tag;
    head[1] = (unsigned char)(value & 0xFFu);
    head[2] = (unsigned char)((value >> 8) & 0xFFu);
    head[3] = (unsigned char)((value >> 16) & 0xFFu);
    head[4] = (unsigned char)((value >> 24) & 0xFFu);
    cg_stream_raw(s, head, 5u);
}

static void cg_stream_record(struct cg_stream *s, char tag, const void *data, unsigned length)
{
    cg_stream_head(s, tag, length);
    cg_stream_raw(s, data, length);
}

static void cg_stream_flush(struct cg_stream *s)
{
    if (s->used) cg_stream_record(s, 'D', s->chunk, s->used);
    s->used = 0;
}

static void cg_gcda_filename(const char *name, void *arg)
{
    unsigned n = 0;
    while (name[n]) ++n;
    cg_stream_record((struct cg_stream *)arg, 'F', name, n);
}

static void cg_gcda_dump(const void *data, unsigned length, void *arg)
{
    struct cg_stream *s = (struct cg_stream *)arg;
    const unsigned char *p = (const unsigned char *)data;
    while (length) {
        unsigned room = (unsigned)sizeof s->chunk - s->used;
        unsigned n = length < room ? length : room;
        unsigned i;
        for (i = 0; i < n; ++i) s->chunk[s->used + i] = p[i];
        s->used += n;
        p += n;
        length -= n;
        if (s->used == sizeof s->chunk) cg_stream_flush(s);
    }
}

/* value-profile counters need scratch memory; arc counters (--coverage) never ask */
static void *cg_gcda_allocate(unsigned length, void *arg)
{
    static unsigned long long pool[1024];
    static unsigned used;
    unsigned words = (length + 7u) / 8u;
    (void)arg;
    if (used + words > sizeof pool / sizeof pool[0]) return 0;
    used += words;
    return &pool[used - words];
}

static void cg_error(const char *what, const char *path)
{
    const char *p;
    const char *nonce = cg_platform_nonce();
    for (p = "@@covguard"; *p; ++p) cg_platform_putc(*p);
    if (nonce && *nonce) {
        cg_platform_putc(':');
        for (p = nonce; *p; ++p) cg_platform_putc(*p);
    }
    for (p = "\terror\t"; *p; ++p) cg_platform_putc(*p);
    for (p = what; *p; ++p) cg_platform_putc(*p);
    for (p = path; p && *p; ++p) cg_platform_putc(*p);
    cg_platform_putc('\n');
}

static void cg_write_coverage(unsigned index)
{
    static char path[sizeof cg_cmdline + 32];
    char digits[12];
    unsigned n = 0, d = 0, objects = 0;
    const char *p;
    const struct cg_gcov_info *const *entry;
    struct {
        const char *path;
        unsigned mode;
        unsigned length;
    } open_block;
    struct cg_stream *s = &cg_out;
    for (p = cg_coverage_dir; *p && n < sizeof path - 32; ++p) path[n++] = *p;
    path[n++] = '/';
    do {
        digits[d++] = (char)('0' + index % 10u);
        index /= 10u;
    } while (index);
    while (d) path[n++] = digits[--d];
    for (p = ".cgcov"; *p; ++p) path[n++] = *p;
    path[n] = 0;
    open_block.path = path;
    open_block.mode = CG_SH_OPEN_WB;
    open_block.length = n;
    s->handle = cg_semihost(CG_SH_OPEN, &open_block);
    s->failed = s->handle < 0;
    s->used = 0;
    if (s->failed) {
        cg_error("cannot create the coverage file ", path);
        return;
    }
    cg_stream_raw(s, "CGCOV1\n", 7);
    for (entry = __start_gcov_info; entry && entry < __stop_gcov_info; ++entry) {
        if (!*entry) continue;
        __gcov_info_to_gcda(*entry, cg_gcda_filename, cg_gcda_dump, cg_gcda_allocate, s);
        cg_stream_flush(s);
        cg_stream_raw(s, "E", 1);
        ++objects;
    }
    cg_stream_head(s, 'Z', objects);
    if (s->failed) cg_error("cannot write the coverage file ", path);
    cg_semihost(CG_SH_CLOSE, &s->handle);
}

__attribute__((weak)) void cg_platform_coverage_begin(unsigned index)
{
    (void)index;
    cg_read_cmdline();
    if (cg_coverage_dir) cg_zero_counters();
}

__attribute__((weak)) void cg_platform_coverage_end(unsigned index)
{
    if (cg_coverage_dir) cg_write_coverage(index);
}

/* what runs after the last test is nobody's coverage */
__attribute__((weak)) void cg_platform_coverage_finish(void)
{
    cg_target_flush();
}
