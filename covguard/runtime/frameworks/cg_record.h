/*
 * cg_record.h - shared by covguard's test-framework hooks (GoogleTest listener, CppUTest plugin,
 * cmocka wrapper).  Not for users: covguard's compiler wrapper compiles the hooks and adds them to
 * the link of every test executable that uses one of these frameworks.
 *
 * Under `covguard test` (COVGUARD_RECORD set) the hook writes one line per event to the record
 * file (TAB-separated; \t \n \\ escaped in text fields):
 *     start   <framework>  <first index>
 *     test    <name>  <file>  <line>          every test that will run, in order (first run only)
 *     disabled <name>  <file>  <line>         a disabled / ignored test
 *     begin   <index>  <name>  <file>  <line>
 *     fail    <index>  <file>  <line>  <message>
 *     end     <index>  PASS|FAIL|SKIP  <microseconds>
 *     done
 * and, when COVGUARD_COVERAGE_DIR is set, resets the coverage counters before each test case and
 * writes them after it into <dir>/from-<first>.cgcovs (gcov: only the objects the test touched, see
 * ../cg_gcov_stream.h) or <dir>/<index>.profraw (clang).  Without COVGUARD_RECORD it does nothing: the executable behaves as it always did.
 */
#ifndef COVGUARD_RECORD_H
#define COVGUARD_RECORD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif
#ifdef __cplusplus
}
#endif
#if defined(COVGUARD_COVERAGE_GCOV)
#include "../cg_gcov_stream.h" /* per test, only the objects it touched, one file per process */
#endif
#ifdef __cplusplus
extern "C" {
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
void __llvm_profile_reset_counters(void);
void __llvm_profile_set_filename(const char *);
int __llvm_profile_write_file(void);
#endif
int setenv(const char *, const char *, int);
#ifdef __cplusplus
}
#endif

/* found in the executable by covguard: which framework hook is linked in */
#define CG_RECORD_MARKER(fw) \
    __attribute__((used)) static const char cg_record_marker[] = "@@covguard-framework:" fw "@@";

#define CG_REC_FN static __attribute__((unused))

static FILE *cg_rec_file;
static const char *cg_rec_dir;
static unsigned cg_rec_first;
static unsigned cg_rec_count;
static int cg_rec_open_index = -1;
static unsigned long long cg_rec_t0;

CG_REC_FN unsigned long long cg_rec_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u;
}

CG_REC_FN void cg_rec_text(const char *s)
{
    if (!s) return;
    for (; *s; ++s) {
        if (*s == '\t') fputs("\\t", cg_rec_file);
        else if (*s == '\n') fputs("\\n", cg_rec_file);
        else if (*s == '\r') continue;
        else if (*s == '\\') fputs("\\\\", cg_rec_file);
        else fputc(*s, cg_rec_file);
    }
}

/* open the record (once); 0 when covguard is not running this executable */
CG_REC_FN int cg_rec_open(const char *framework)
{
    const char *path, *first;
    if (cg_rec_file) return 1;
    path = getenv("COVGUARD_RECORD");
    if (!path || !*path) return 0;
    cg_rec_file = fopen(path, "a");
    if (!cg_rec_file) return 0;
    cg_rec_dir = getenv("COVGUARD_COVERAGE_DIR");
    if (cg_rec_dir && !*cg_rec_dir) cg_rec_dir = NULL;
    first = getenv("COVGUARD_FIRST_TEST");
    cg_rec_first = first ? (unsigned)strtoul(first, NULL, 10) : 0u;
    fprintf(cg_rec_file, "start\t%s\t%u\n", framework, cg_rec_first);
    fflush(cg_rec_file);
    return 1;
}

CG_REC_FN int cg_rec_listing(void)
{
    const char *s = getenv("COVGUARD_LIST");
    return cg_rec_file && s && *s == '1';
}

CG_REC_FN void cg_rec_listed(const char *kind, const char *name, const char *file, unsigned long line)
{
    if (!cg_rec_file) return;
    fputs(kind, cg_rec_file);
    fputc('\t', cg_rec_file);
    cg_rec_text(name);
    fputc('\t', cg_rec_file);
    cg_rec_text(file);
    fprintf(cg_rec_file, "\t%lu\n", line);
    fflush(cg_rec_file);
}

CG_REC_FN void cg_rec_coverage_to(const char *leaf)
{
#if defined(COVGUARD_COVERAGE_GCOV) || defined(COVGUARD_COVERAGE_LLVM)
    char path[4096];
#endif
    if (!cg_rec_dir) return;
#if defined(COVGUARD_COVERAGE_GCOV)
    snprintf(path, sizeof path, "%s/%s", cg_rec_dir, leaf);
    setenv("GCOV_PREFIX", path, 1);
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
    snprintf(path, sizeof path, "%s/%s.profraw", cg_rec_dir, leaf);
    __llvm_profile_set_filename(path);
#endif
    (void)leaf;
}

/* a test case begins: its coverage from here on goes to its own folder */
CG_REC_FN void cg_rec_begin_at(int index, const char *name, const char *file, unsigned long line)
{
    char leaf[32];
    if (!cg_rec_file) return;
    cg_rec_open_index = index;
    fprintf(cg_rec_file, "begin\t%d\t", index);
    cg_rec_text(name);
    fputc('\t', cg_rec_file);
    cg_rec_text(file);
    fprintf(cg_rec_file, "\t%lu\n", line);
    fflush(cg_rec_file);
    snprintf(leaf, sizeof leaf, "%d", index);
    cg_rec_coverage_to(leaf);
    if (cg_rec_dir) {
#if defined(COVGUARD_COVERAGE_GCOV)
        __gcov_reset();
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
        __llvm_profile_reset_counters();
#endif
    }
    cg_rec_t0 = cg_rec_now_us();
}

/* the next test case, in the order the framework runs them */
CG_REC_FN void cg_rec_begin(const char *name, const char *file, unsigned long line)
{
    cg_rec_begin_at((int)(cg_rec_first + cg_rec_count++), name, file, line);
}

CG_REC_FN void cg_rec_fail(const char *file, unsigned long line, const char *message)
{
    if (!cg_rec_file || cg_rec_open_index < 0) return;
    fprintf(cg_rec_file, "fail\t%d\t", cg_rec_open_index);
    cg_rec_text(file);
    fprintf(cg_rec_file, "\t%lu\t", line);
    cg_rec_text(message);
    fputc('\n', cg_rec_file);
    fflush(cg_rec_file);
}

/* a test case ended: write its counters, then send whatever runs next outside any test apart */
CG_REC_FN void cg_rec_end(const char *status)
{
    unsigned long long t1 = cg_rec_now_us();
    if (!cg_rec_file || cg_rec_open_index < 0) return;
    if (cg_rec_dir) {
#if defined(COVGUARD_COVERAGE_GCOV)
        cg_gcov_stream_dump(cg_rec_dir, cg_rec_first, (unsigned)cg_rec_open_index);
#endif
#if defined(COVGUARD_COVERAGE_LLVM)
        __llvm_profile_write_file();
#endif
    }
    cg_rec_coverage_to("teardown");
    fprintf(cg_rec_file, "end\t%d\t%s\t%llu\n", cg_rec_open_index, status, t1 - cg_rec_t0);
    fflush(cg_rec_file);
    cg_rec_open_index = -1;
}

CG_REC_FN void cg_rec_done(void)
{
    if (!cg_rec_file) return;
    fputs("done\n", cg_rec_file);
    fflush(cg_rec_file);
}

#endif /* COVGUARD_RECORD_H */
