/*
 * covguard_unity.c - per-test-case coverage for Unity (ThrowTheSwitch) suites, with no change to
 * their tests, runners or build files.
 *
 * covguard's compiler wrapper links this object into every test executable it links (host-gcc and
 * host-clang profiles), with GNU ld's --wrap for Unity's entry points.  --wrap only redirects calls
 * from OTHER objects, so the hooks are placed where both runner styles cross an object boundary:
 *
 *   hand-written runner   main (test file) -> RUN_TEST -> UnityDefaultTestRun (unity.c)
 *                         unity.c -> setUp (test file), Func(), tearDown, UnityConcludeTest
 *   generated runner      main (runner) -> static run_test (runner) -> setUp (test file),
 *   (generate_test_runner.rb, Ceedling)   func(), tearDown, UnityConcludeTest (unity.c)
 *
 * UnityBegin/UnityEnd are called from main in both.  So a test case begins at
 * __wrap_UnityDefaultTestRun or, for a generated runner, at __wrap_setUp (setUp and tearDown
 * count with their test), and ends after UnityDefaultTestRun returns or at __wrap_UnityConcludeTest.
 *
 * Per case <i>: counters reset before it, GCOV_PREFIX=<COVGUARD_COVERAGE_DIR>/<i> (for a case
 * that calls exit()) and the objects the case touched appended after it to <dir>/from-<first>.cgcovs
 * (cg_gcov_stream.h), as covguard's own harness does (covguard_test.h); with
 * COVGUARD_COVERAGE_LLVM (host-clang) clang's profile run-time writes <dir>/<i>.profraw.  Around each case it
 * prints, with the run's nonce (COVGUARD_NONCE):
 *
 *     @@covguard:<nonce>  unity-begin  <i>  <test name>  <test file>
 *     @@covguard:<nonce>  unity-end    <i>
 *     @@covguard:<nonce>  unity-done   <cases>      (at UnityEnd)
 *
 * and covguard takes the Unity result line printed between them as case <i>'s result.  After a
 * crash covguard starts the executable again with COVGUARD_FIRST_TEST=<i+1>: earlier cases are
 * not run (hand-written runner) or ignored through UnityIgnore (generated runner, whose run_test
 * cannot be skipped from outside); their lines are not taken again.
 *
 * If no case ever begins (a runner whose calls do not cross objects, e.g. setUp defined in the
 * same file as a generated runner's run_test), the run's coverage goes to <dir>/all and covguard
 * attributes it per executable, saying so (coarse_attribution).
 *
 * Without COVGUARD_COVERAGE_DIR (the executable run by hand) it does nothing but call through.
 * Every Unity symbol is a weak reference: an executable without Unity links and runs unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*cgu_test_fn)(void);

#define CGU_WEAK __attribute__((weak))

extern void __real_UnityBegin(const char *filename) CGU_WEAK;
extern int __real_UnityEnd(void) CGU_WEAK;
extern void __real_UnityDefaultTestRun(cgu_test_fn fn, const char *name, const int line) CGU_WEAK;
extern void __real_UnityConcludeTest(void) CGU_WEAK;
extern void __real_setUp(void) CGU_WEAK;
extern void UnityIgnore(const char *message, unsigned long line) CGU_WEAK;
#if defined(COVGUARD_COVERAGE_LLVM)
/* clang's profile run-time (host-clang profile): <dir>/<i>.profraw per case */
extern int __llvm_profile_write_file(void);
extern void __llvm_profile_set_filename(const char *);
extern void __llvm_profile_reset_counters(void);
#else
/* strong: a weak reference would not pull them out of libgcov.a (every covguard link has -lgcov);
   the dump appends the objects the case touched to <dir>/from-<first>.cgcovs */
#include "cg_gcov_stream.h"
#endif
extern int setenv(const char *, const char *, int);

/* the first two members of Unity's global state, the same in every Unity 2.x (unity_internals.h:
   struct UNITY_STORAGE_T { const char* TestFile; const char* CurrentTestName; ...}): a generated
   runner sets the name before it calls setUp, so a case is named even when it crashes */
struct cgu_unity_head {
    const char *TestFile;
    const char *CurrentTestName;
};
extern struct cgu_unity_head Unity CGU_WEAK;

void __wrap_UnityBegin(const char *filename);
int __wrap_UnityEnd(void);
void __wrap_UnityDefaultTestRun(cgu_test_fn fn, const char *name, const int line);
void __wrap_UnityConcludeTest(void);
void __wrap_setUp(void);

static int cgu_active;      /* UnityBegin seen and covguard is running the executable */
static int cgu_in_case;     /* a case has begun and not ended */
static int cgu_by_default;  /* the case began in UnityDefaultTestRun (hand-written runner) */
static unsigned cgu_next;   /* index of the next case */
static unsigned cgu_first;  /* COVGUARD_FIRST_TEST */
static const char *cgu_dir; /* COVGUARD_COVERAGE_DIR */
static const char *cgu_nonce;

static void cgu_text(const char *s)
{
    for (; s && *s; ++s) putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void cgu_mark(const char *what, unsigned index, const char *name)
{
    fflush(stdout);
    printf("\n@@covguard:%s\t%s\t%u", cgu_nonce ? cgu_nonce : "", what, index);
    if (name) {
        putchar('\t');
        cgu_text(name);
        putchar('\t');
        cgu_text(&Unity ? Unity.TestFile : "");
    }
    putchar('\n');
    fflush(stdout);
}

/* where the counters go from now on: <dir>/<leaf> (gcov's GCOV_PREFIX) or <dir>/<leaf>.profraw */
static void cgu_prefix(const char *leaf)
{
    static char path[2][4096]; /* clang's run-time keeps the pointer: static, alternating */
    static int which;
    which ^= 1;
#if defined(COVGUARD_COVERAGE_LLVM)
    snprintf(path[which], sizeof path[which], "%s/%s.profraw", cgu_dir, leaf);
    __llvm_profile_set_filename(path[which]);
#else
    snprintf(path[which], sizeof path[which], "%s/%s", cgu_dir, leaf);
    setenv("GCOV_PREFIX", path[which], 1);
#endif
}

static void cgu_reset(void)
{
#if defined(COVGUARD_COVERAGE_LLVM)
    __llvm_profile_reset_counters();
#else
    __gcov_reset();
#endif
}

static void cgu_dump(unsigned index)
{
#if defined(COVGUARD_COVERAGE_LLVM)
    (void)index;
    __llvm_profile_write_file();
#else
    cg_gcov_stream_dump(cgu_dir, cgu_first, index);
#endif
}

/* covguard test --select: COVGUARD_ONLY="\nname\nname\n" runs only those cases (unset: all) */
static int cgu_selected(const char *name)
{
    const char *only = getenv("COVGUARD_ONLY"), *p;
    size_t n = strlen(name);
    if (!only) return 1;
    for (p = strstr(only, name); p; p = strstr(p + 1, name))
        if (p > only && p[-1] == '\n' && p[n] == '\n') return 1;
    return 0;
}

static int cgu_skipped;     /* the current case does not run (before the restart, or not selected) */

/* a case begins: returns 0 when it is to be skipped (resumed after a crash, or not selected) */
static int cgu_begin(const char *name)
{
    char leaf[32];
    unsigned index = cgu_next++;
    const char *shown = name ? name : (&Unity && Unity.CurrentTestName ? Unity.CurrentTestName : "?");
    cgu_in_case = 1;
    cgu_mark("unity-begin", index, shown);
    cgu_skipped = index < cgu_first || !cgu_selected(shown);
    if (cgu_skipped) return 0;
    snprintf(leaf, sizeof leaf, "%u", index);
    cgu_prefix(leaf);
    cgu_reset();
    return 1;
}

static void cgu_end(void)
{
    unsigned index = cgu_next - 1;
    if (!cgu_skipped) cgu_dump(index); /* skipped: before the restart, or not selected */
    cgu_prefix("between");
    cgu_in_case = 0;
    cgu_by_default = 0;
    cgu_mark("unity-end", index, NULL);
}

void __wrap_UnityBegin(const char *filename)
{
    const char *first = getenv("COVGUARD_FIRST_TEST");
    cgu_dir = getenv("COVGUARD_COVERAGE_DIR");
    cgu_nonce = getenv("COVGUARD_NONCE");
    cgu_first = first ? (unsigned)strtoul(first, NULL, 10) : 0u;
    cgu_active = cgu_dir != NULL;
    cgu_next = 0;
    if (cgu_active) cgu_prefix("between"); /* what runs outside the cases is nobody's */
    if (__real_UnityBegin) __real_UnityBegin(filename);
}

int __wrap_UnityEnd(void)
{
    int failures = __real_UnityEnd ? __real_UnityEnd() : 0;
    if (cgu_active) {
        if (cgu_in_case) cgu_end();
        cgu_mark("unity-done", cgu_next, NULL);
        /* no case ever began (a runner whose calls do not cross objects, e.g. setUp defined beside
           its own run_test): the whole run, never reset, is the executable's coverage */
        cgu_prefix(cgu_next ? "teardown" : "all");
    }
    return failures;
}

void __wrap_UnityDefaultTestRun(cgu_test_fn fn, const char *name, const int line)
{
    if (!cgu_active) {
        if (__real_UnityDefaultTestRun) __real_UnityDefaultTestRun(fn, name, line);
        return;
    }
    if (cgu_in_case) cgu_end();
    if (cgu_begin(name)) {
        cgu_by_default = 1;
        if (__real_UnityDefaultTestRun) __real_UnityDefaultTestRun(fn, name, line);
    }
    cgu_end();
}

void __wrap_setUp(void)
{
    /* a generated runner's run_test: the case begins here (a hand-written one's began already) */
    if (cgu_active && !cgu_by_default) {
        if (cgu_in_case) cgu_end();
        if (!cgu_begin(NULL) && UnityIgnore)
            UnityIgnore(cgu_next - 1 < cgu_first ? "covguard: ran before the restart" : "covguard: not selected", 0);
    }
    if (__real_setUp) __real_setUp();
}

void __wrap_UnityConcludeTest(void)
{
    if (__real_UnityConcludeTest) __real_UnityConcludeTest();
    if (cgu_active && cgu_in_case && !cgu_by_default) cgu_end();
}
