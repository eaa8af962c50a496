/*
 * covguard_test.h - covguard's unit-test harness for C firmware.
 *
 * One header, no malloc, no stdio on the target: output goes through one character hook, so the
 * same tests run on the host and on a bare-metal target.  Use:
 *
 *     #include "covguard_test.h"
 *
 *     CG_TEST(bolus_is_clamped_to_limit, "PUMP-SRS-004")   // test name, requirements it verifies
 *     {
 *         CG_ASSERT_EQ_INT(1000, bolus_clamp(2500, 1000));
 *     }
 *
 *     CG_MAIN()                                             // once per test executable
 *
 * Requirements: the second argument of CG_TEST is the primary form ("ID" or "ID1, ID2", may be
 * ""); an `@verifies ID` comment directly above the test is read too and merged.
 *
 * Output protocol (one line per event, fields separated by TABs; covguard parses it).  The
 * marker carries the run's nonce when covguard runs the executable ("@@covguard:<nonce>", the
 * nonce from COVGUARD_NONCE or the target's command line): lines without it are refused.
 *     @@covguard  start  <protocol>  <number of tests>
 *     @@covguard  begin  <index>  <name>  <file>  <line>  <verifies>
 *     @@covguard  end    <index>  <name>  PASS|FAIL|SKIP  <file>  <line>  <microseconds|->  <message>
 *     @@covguard  done   <run>  <failed>  <skipped>
 *
 * Per-test coverage: when covguard runs the executable it sets COVGUARD_COVERAGE_DIR; the harness
 * then resets the coverage counters before each test and writes them after it into
 * <dir>/from-<first>.cgcovs (gcov: only the objects the test touched, see cg_gcov_stream.h; a test
 * that calls exit() has libgcov write <dir>/<index>/ through GCOV_PREFIX) or
 * <dir>/<index>.profraw (clang).
 * covguard's compiler wrapper defines COVGUARD_COVERAGE_GCOV or COVGUARD_COVERAGE_LLVM to switch
 * this on.  On a target the platform supplies these hooks (see covguard's Cortex-M runtime).
 *
 * Platform hooks (weak defaults for a hosted C library are below; a target overrides them):
 *     void cg_platform_putc(char c);                      write one character
 *     unsigned long long cg_platform_time_us(void);       a microsecond clock, or 0
 *     void cg_platform_coverage_begin(unsigned index);    zero the counters before test <index>
 *     void cg_platform_coverage_end(unsigned index);      write the counters of test <index>
 *     void cg_platform_coverage_finish(void);             after the last test
 *     unsigned cg_platform_first_test(void);              index of the first test to run
 *     const char *cg_platform_nonce(void);                the run's nonce, or NULL
 * Optional per-executable fixtures: define void cg_setup(void) and/or void cg_teardown(void).
 */
#ifndef COVGUARD_TEST_H
#define COVGUARD_TEST_H

#include <setjmp.h>
#include <stddef.h>

#define CG_PROTOCOL_VERSION "1"

#ifndef CG_MAX_TESTS
#define CG_MAX_TESTS 1024
#endif
#ifndef CG_MESSAGE_SIZE
#define CG_MESSAGE_SIZE 200
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CG__WEAK __attribute__((weak))
#define CG__UNUSED __attribute__((unused))
/* `retain` keeps the section under --gc-sections; bare-metal ARM GCC accepts the attribute but
   ignores it with a warning (its assembler lacks SHF_GNU_RETAIN), which -Werror builds reject.
   There the __start_cg_tests reference keeps the section alive. */
#if defined(__has_attribute) && !(defined(__arm__) && !defined(__linux__))
#if __has_attribute(retain)
#define CG__KEEP __attribute__((used, retain, section("cg_tests")))
#endif
#endif
#ifndef CG__KEEP
#define CG__KEEP __attribute__((used, section("cg_tests")))
#endif
#else
#error "covguard_test.h needs GCC or clang (it registers tests through a linker section)"
#endif

typedef void (*cg_test_fn)(void);

struct cg_test {
    const char *name;
    const char *verifies;
    const char *file;
    int line;
    cg_test_fn fn;
};

/* shared state: one instance per executable (weak definitions merge across translation units) */
struct cg_state {
    jmp_buf jump;
    int status; /* 0 pass, 1 fail, 2 skip */
    const char *fail_file;
    int fail_line;
    char message[CG_MESSAGE_SIZE];
    unsigned run, failed, skipped;
};
CG__WEAK struct cg_state cg__state;

/* ---- platform hooks ---------------------------------------------------------------------- */
void cg_platform_putc(char c);
unsigned long long cg_platform_time_us(void);
void cg_platform_coverage_begin(unsigned index);
void cg_platform_coverage_end(unsigned index);
void cg_platform_coverage_finish(void);
unsigned cg_platform_first_test(void);
const char *cg_platform_nonce(void);
/* optional fixtures: weak references, so a test file may define them or not */
extern void cg_setup(void) CG__WEAK;
extern void cg_teardown(void) CG__WEAK;

/* ---- registration ------------------------------------------------------------------------- */
#define CG_TEST(name, verifies)                                                                  \
    static void cg_test_body_##name(void);                                                      \
    static const struct cg_test cg_test_record_##name = {#name, verifies, __FILE__, __LINE__,    \
                                                         cg_test_body_##name};                   \
    static const struct cg_test *const cg_test_entry_##name CG__KEEP = &cg_test_record_##name;  \
    static void cg_test_body_##name(void)

/* ---- assertions --------------------------------------------------------------------------- */
#define CG_FAIL(msg) cg__fail(__FILE__, __LINE__, (msg), NULL, 0, 0, 0)
#define CG_SKIP(msg) cg__skip(__FILE__, __LINE__, (msg))
#define CG_ASSERT(cond)                                                                          \
    do {                                                                                         \
        if (!(cond)) cg__fail(__FILE__, __LINE__, "expected true: " #cond, NULL, 0, 0, 0);       \
    } while (0)
#define CG_ASSERT_TRUE(cond) CG_ASSERT(cond)
#define CG_ASSERT_FALSE(cond)                                                                    \
    do {                                                                                         \
        if (cond) cg__fail(__FILE__, __LINE__, "expected false: " #cond, NULL, 0, 0, 0);         \
    } while (0)
#define CG__CMP_INT(op, opname, a, b)                                                            \
    do {                                                                                         \
        long long cg__a = (long long)(a), cg__b = (long long)(b);                                \
        if (!(cg__a op cg__b))                                                                   \
            cg__fail(__FILE__, __LINE__, #a " " opname " " #b, "", cg__a, cg__b, 1);             \
    } while (0)
#define CG_ASSERT_EQ_INT(expected, actual) CG__CMP_INT(==, "==", expected, actual)
#define CG_ASSERT_NE_INT(a, b) CG__CMP_INT(!=, "!=", a, b)
#define CG_ASSERT_LT_INT(a, b) CG__CMP_INT(<, "<", a, b)
#define CG_ASSERT_LE_INT(a, b) CG__CMP_INT(<=, "<=", a, b)
#define CG_ASSERT_GT_INT(a, b) CG__CMP_INT(>, ">", a, b)
#define CG_ASSERT_GE_INT(a, b) CG__CMP_INT(>=, ">=", a, b)
#define CG_ASSERT_EQ_UINT(expected, actual)                                                      \
    do {                                                                                         \
        unsigned long long cg__a = (unsigned long long)(expected);                               \
        unsigned long long cg__b = (unsigned long long)(actual);                                 \
        if (cg__a != cg__b)                                                                      \
            cg__fail(__FILE__, __LINE__, #expected " == " #actual, "", (long long)cg__a,         \
                     (long long)cg__b, 2);                                                       \
    } while (0)
#define CG_ASSERT_EQ_STR(expected, actual)                                                       \
    do {                                                                                         \
        if (!cg__str_eq((expected), (actual)))                                                   \
            cg__fail(__FILE__, __LINE__, "strings differ: " #expected " == " #actual, NULL, 0,   \
                     0, 0);                                                                      \
    } while (0)
#define CG_ASSERT_EQ_MEM(expected, actual, size)                                                 \
    do {                                                                                         \
        if (!cg__mem_eq((expected), (actual), (size)))                                           \
            cg__fail(__FILE__, __LINE__, "memory differs: " #expected " == " #actual, NULL, 0,   \
                     0, 0);                                                                      \
    } while (0)
#define CG_ASSERT_NULL(p) CG_ASSERT((p) == NULL)
#define CG_ASSERT_NOT_NULL(p) CG_ASSERT((p) != NULL)

/* ---- output -------------------------------------------------------------------------------- */
static CG__UNUSED void cg__puts(const char *s)
{
    for (; s && *s; ++s) cg_platform_putc(*s);
}

/* the start of every protocol line: the marker with the run's nonce, then a TAB */
static CG__UNUSED void cg__mark(const char *kind)
{
    const char *nonce = cg_platform_nonce();
    cg__puts("@@covguard");
    if (nonce && *nonce) {
        cg_platform_putc(':');
        cg__puts(nonce);
    }
    cg_platform_putc('\t');
    cg__puts(kind);
}

/* protocol fields: TAB and newlines inside a field would break the line format */
static CG__UNUSED void cg__field(const char *s)
{
    for (; s && *s; ++s) {
        char c = *s;
        if (c == '\t' || c == '\r') c = ' ';
        if (c == '\n') {
            cg_platform_putc('\\');
            c = 'n';
        }
        cg_platform_putc(c);
    }
}

static CG__UNUSED void cg__putu(unsigned long long v)
{
    char buf[24];
    int i = 0;
    do {
        buf[i++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v && i < (int)sizeof buf);
    while (i--) cg_platform_putc(buf[i]);
}

static CG__UNUSED void cg__puti(long long v)
{
    if (v < 0) {
        cg_platform_putc('-');
        cg__putu((unsigned long long)0 - (unsigned long long)v);
    } else {
        cg__putu((unsigned long long)v);
    }
}

static CG__UNUSED int cg__str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

static CG__UNUSED int cg__mem_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (n--)
        if (*x++ != *y++) return 0;
    return 1;
}

static CG__UNUSED int cg__str_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) ++a, ++b;
    return (unsigned char)*a - (unsigned char)*b;
}

/* message: text, then for comparisons " (expected E, got A)" */
static CG__UNUSED void cg__append(char *dst, size_t *len, const char *s)
{
    while (s && *s && *len + 1 < CG_MESSAGE_SIZE) dst[(*len)++] = *s++;
    dst[*len] = 0;
}

static CG__UNUSED void cg__append_num(char *dst, size_t *len, long long v, int is_unsigned)
{
    char buf[24];
    int i = 0, neg = 0;
    unsigned long long u;
    if (!is_unsigned && v < 0) {
        neg = 1;
        u = (unsigned long long)0 - (unsigned long long)v;
    } else {
        u = (unsigned long long)v;
    }
    do {
        buf[i++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u && i < 22);
    if (neg) buf[i++] = '-';
    while (i-- && *len + 1 < CG_MESSAGE_SIZE) dst[(*len)++] = buf[i];
    dst[*len] = 0;
}

static CG__UNUSED void cg__fail(const char *file, int line, const char *what, const char *cmp,
                                long long expected, long long actual, int kind)
{
    size_t len = 0;
    cg__state.message[0] = 0;
    cg__append(cg__state.message, &len, what);
    if (cmp) {
        cg__append(cg__state.message, &len, " (expected ");
        cg__append_num(cg__state.message, &len, expected, kind == 2);
        cg__append(cg__state.message, &len, ", got ");
        cg__append_num(cg__state.message, &len, actual, kind == 2);
        cg__append(cg__state.message, &len, ")");
    }
    cg__state.status = 1;
    cg__state.fail_file = file;
    cg__state.fail_line = line;
    longjmp(cg__state.jump, 1);
}

static CG__UNUSED void cg__skip(const char *file, int line, const char *why)
{
    size_t len = 0;
    cg__state.message[0] = 0;
    cg__append(cg__state.message, &len, why);
    cg__state.status = 2;
    cg__state.fail_file = file;
    cg__state.fail_line = line;
    longjmp(cg__state.jump, 1);
}

/* ---- the runner ---------------------------------------------------------------------------- */
extern const struct cg_test *const __start_cg_tests[];
extern const struct cg_test *const __stop_cg_tests[];

static CG__UNUSED int cg__before(const struct cg_test *a, const struct cg_test *b)
{
    int c = cg__str_cmp(a->file, b->file);
    return c < 0 || (c == 0 && a->line < b->line);
}

#if !defined(CG_NO_HOSTED_PLATFORM) && (defined(__STDC_HOSTED__) && __STDC_HOSTED__)
#include <stdlib.h>
#include <string.h>
/* covguard test --select: COVGUARD_ONLY="\nname\nname\n" runs only those tests (unset: all) */
static CG__UNUSED int cg__selected(const char *name)
{
    const char *only = getenv("COVGUARD_ONLY"), *p;
    size_t n = strlen(name);
    if (!only) return 1;
    for (p = strstr(only, name); p; p = strstr(p + 1, name))
        if (p > only && p[-1] == '\n' && p[n] == '\n') return 1;
    return 0;
}
#else
#define cg__selected(name) 1
#endif

static CG__UNUSED int cg_run_all(void)
{
    static const struct cg_test *tests[CG_MAX_TESTS];
    unsigned n = 0, i, first;
    const struct cg_test *const *p;
    for (p = __start_cg_tests; p < __stop_cg_tests; ++p) {
        if (n == CG_MAX_TESTS) {
            cg__mark("error\ttoo many tests: raise CG_MAX_TESTS\n");
            return 2;
        }
        /* insertion sort into source order: file, then line */
        for (i = n++; i > 0 && cg__before(*p, tests[i - 1]); --i) tests[i] = tests[i - 1];
        tests[i] = *p;
    }
    cg__mark("start\t" CG_PROTOCOL_VERSION "\t");
    cg__putu(n);
    cg__puts("\n");
    first = cg_platform_first_test();
    for (i = first; i < n; ++i) {
        const struct cg_test *t = tests[i];
        unsigned long long t0, t1;
        const char *status;
        if (!cg__selected(t->name)) continue;
        cg__mark("begin\t");
        cg__putu(i);
        cg__puts("\t");
        cg__field(t->name);
        cg__puts("\t");
        cg__field(t->file);
        cg__puts("\t");
        cg__puti(t->line);
        cg__puts("\t");
        cg__field(t->verifies);
        cg__puts("\n");
        cg__state.status = 0;
        cg__state.message[0] = 0;
        cg__state.fail_file = t->file;
        cg__state.fail_line = t->line;
        cg_platform_coverage_begin(i);
        t0 = cg_platform_time_us();
        if (setjmp(cg__state.jump) == 0) {
            if (cg_setup) cg_setup();
            t->fn();
        }
        if (cg_teardown && setjmp(cg__state.jump) == 0) cg_teardown();
        t1 = cg_platform_time_us();
        cg_platform_coverage_end(i);
        ++cg__state.run;
        if (cg__state.status == 1) {
            ++cg__state.failed;
            status = "FAIL";
        } else if (cg__state.status == 2) {
            ++cg__state.skipped;
            status = "SKIP";
        } else {
            status = "PASS";
        }
        cg__mark("end\t");
        cg__putu(i);
        cg__puts("\t");
        cg__field(t->name);
        cg__puts("\t");
        cg__puts(status);
        cg__puts("\t");
        cg__field(cg__state.fail_file);
        cg__puts("\t");
        cg__puti(cg__state.fail_line);
        cg__puts("\t");
        if (t0 || t1)
            cg__putu(t1 - t0);
        else
            cg__puts("-");
        cg__puts("\t");
        cg__field(cg__state.message);
        cg__puts("\n");
    }
    cg_platform_coverage_finish();
    cg__mark("done\t");
    cg__putu(cg__state.run);
    cg__puts("\t");
    cg__putu(cg__state.failed);
    cg__puts("\t");
    cg__putu(cg__state.skipped);
    cg__puts("\n");
    return cg__state.failed ? 1 : 0;
}

#define CG_MAIN()                                                                                \
    int main(void) { return cg_run_all(); }


/* ---- hosted platform (weak: a target runtime overrides these) ------------------------------- */
#if !defined(CG_NO_HOSTED_PLATFORM) && (defined(__STDC_HOSTED__) && __STDC_HOSTED__)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* covguard's compiler wrapper defines COVGUARD_COVERAGE_GCOV or COVGUARD_COVERAGE_LLVM when it
   instruments the build; a plain build of the same tests runs them without per-test coverage. */
#if defined(COVGUARD_COVERAGE_GCOV)
/* cg_gcov_stream.h (beside this header): per test, only the objects the test touched, into one
   file per process; a copy of this header without it falls back to __gcov_dump() */
#if defined(__has_include)
#if __has_include("cg_gcov_stream.h")
#include "cg_gcov_stream.h"
#define CG__GCOV_HAVE_STREAM 1
#endif
#endif
#ifndef CG__GCOV_HAVE_STREAM
extern void __gcov_dump(void);
extern void __gcov_reset(void);
#endif
#define CG__GCOV_RESET() __gcov_reset()
#else
#define CG__GCOV_RESET() ((void)0)
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
extern int __llvm_profile_write_file(void);
extern void __llvm_profile_set_filename(const char *);
extern void __llvm_profile_reset_counters(void);
#endif
extern int setenv(const char *, const char *, int);

CG__WEAK void cg_platform_putc(char c)
{
    fputc(c, stdout);
    if (c == '\n') fflush(stdout);
}

CG__WEAK unsigned long long cg_platform_time_us(void)
{
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && defined(TIME_UTC)
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) == TIME_UTC)
        return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u;
#endif
    /* C99: processor time, which is what a unit test spends */
    return (unsigned long long)((double)clock() * 1e6 / (double)CLOCKS_PER_SEC);
}

static CG__UNUSED const char *cg__coverage_dir(void) { return getenv("COVGUARD_COVERAGE_DIR"); }

CG__WEAK void cg_platform_coverage_begin(unsigned index)
{
    char path[4096];
    const char *dir = cg__coverage_dir();
    if (!dir) return;
#if defined(COVGUARD_COVERAGE_GCOV)
    /* the test's own folder from its first instruction: if it calls exit(), libgcov's exit
       handler writes there, never into the previous test's data */
    snprintf(path, sizeof path, "%s/%u", dir, index);
    setenv("GCOV_PREFIX", path, 1);
    CG__GCOV_RESET();
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
    snprintf(path, sizeof path, "%s/%u.profraw", dir, index);
    __llvm_profile_set_filename(path);
    __llvm_profile_reset_counters();
#endif
    (void)index;
    (void)path;
}

CG__WEAK void cg_platform_coverage_end(unsigned index)
{
    const char *dir = cg__coverage_dir();
    if (!dir) return;
#if defined(COVGUARD_COVERAGE_GCOV)
#if defined(CG__GCOV_HAVE_STREAM)
    /* the objects this test touched, appended to the process's run file (cg_gcov_stream.h); it
       marks the data as written, so the exit handler does not write it again after the last test */
    cg_gcov_stream_dump(dir, cg_platform_first_test(), index);
#else
    /* libgcov writes <GCOV_PREFIX>/<object path>.gcda for every object; a dump marks the data
       as written, so the exit handler does not write it again after the last test */
    __gcov_dump();
#endif
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
    __llvm_profile_write_file();
#endif
    (void)index;
    (void)dir;
}

CG__WEAK void cg_platform_coverage_finish(void)
{
    char path[4096];
    const char *dir = cg__coverage_dir();
    if (!dir) return;
    /* whatever runs after the last test (exit handlers) is nobody's coverage: keep it apart */
#if defined(COVGUARD_COVERAGE_GCOV)
    snprintf(path, sizeof path, "%s/teardown", dir);
    setenv("GCOV_PREFIX", path, 1);
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
    snprintf(path, sizeof path, "%s/teardown.profraw", dir);
    __llvm_profile_set_filename(path);
#endif
    (void)path;
}

CG__WEAK unsigned cg_platform_first_test(void)
{
    const char *s = getenv("COVGUARD_FIRST_TEST");
    return s ? (unsigned)strtoul(s, NULL, 10) : 0u;
}

CG__WEAK const char *cg_platform_nonce(void) { return getenv("COVGUARD_NONCE"); }
#endif /* hosted platform */

#endif /* COVGUARD_TEST_H */
