/*
 * cg_cmocka.c - covguard's cmocka hook (see cg_record.h).  covguard's compiler wrapper compiles
 * this file and links it into every test executable that links cmocka, with
 * -Wl,--wrap=_cmocka_run_group_tests (what cmocka_run_group_tests() calls): the wrapper hands
 * cmocka a copy of each group's test table whose setup and teardown are covguard's own, calling
 * the test's, so each test case's coverage (setup, test, teardown) goes to its own folder.
 * Statuses come from cmocka's own XML output.  A test that does not reach its teardown (cmocka
 * skips it after a failure) is closed when the next test starts or the group ends.  Test indices
 * count every test of every group of the executable, in order; when covguard resumes after a
 * crash (COVGUARD_FIRST_TEST), the tests before that index are left out of the tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cg_record.h"

CG_RECORD_MARKER("cmocka")

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

static struct CMUnitTest *cg_user; /* the test's own entries, beside covguard's copy */
static struct CMUnitTest *cg_copy; /* what cmocka runs */
static unsigned *cg_global;        /* each entry's index in the executable */
static size_t cg_count;
static size_t cg_next;
static int cg_window; /* a test's coverage window is open */

static void cg_close(void)
{
    if (cg_window) cg_rec_end("DONE");
    cg_window = 0;
}

/* which entry a fixture call belongs to: cmocka passes &state, the member right after the test
   pointer in its per-test record (checked against the copy's bounds; else: the order of calls) */
static size_t cg_index_of(void **state)
{
    const struct CMUnitTest *t = ((const struct CMUnitTest *const *)state)[-1];
    if (t >= cg_copy && t < cg_copy + cg_count) return (size_t)(t - cg_copy);
    return cg_next < cg_count ? cg_next : cg_count - 1;
}

static int cg_setup(void **state)
{
    size_t i = cg_index_of(state);
    cg_close();
    cg_next = i + 1;
    cg_rec_begin_at((int)cg_global[i], cg_user[i].name, "", 0);
    cg_window = cg_rec_file != NULL;
    return cg_user[i].setup_func ? cg_user[i].setup_func(state) : 0;
}

static int cg_teardown(void **state)
{
    size_t i = cg_index_of(state);
    int rc = cg_user[i].teardown_func ? cg_user[i].teardown_func(state) : 0;
    cg_close();
    return rc;
}

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
    static unsigned before; /* tests of the executable's earlier groups */
    size_t i, kept = 0;
    int rc;
    if (!cg_rec_open("cmocka") || num_tests == 0)
        return __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);
    cg_copy = (struct CMUnitTest *)calloc(num_tests, sizeof *cg_copy);
    cg_user = (struct CMUnitTest *)calloc(num_tests, sizeof *cg_user);
    cg_global = (unsigned *)calloc(num_tests, sizeof *cg_global);
    if (!cg_copy || !cg_user || !cg_global) {
        free(cg_copy), free(cg_user), free(cg_global);
        return __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);
    }
    for (i = 0; i < num_tests; ++i) {
        unsigned global = before + (unsigned)i;
        if (cg_rec_listing()) cg_rec_listed("test", tests[i].name, "", 0);
        if (global < cg_rec_first) continue; /* ran before the crash covguard resumes from */
        cg_user[kept] = tests[i];
        cg_copy[kept] = tests[i];
        cg_global[kept] = global;
        if (tests[i].test_func) {
            cg_copy[kept].setup_func = cg_setup;
            cg_copy[kept].teardown_func = cg_teardown;
        }
        ++kept;
    }
    cg_count = kept;
    cg_next = 0;
    rc = kept ? __real__cmocka_run_group_tests(group_name, cg_copy, kept, group_setup, group_teardown) : 0;
    cg_close();
    before += (unsigned)num_tests;
    free(cg_copy), free(cg_user), free(cg_global);
    cg_copy = cg_user = NULL;
    cg_global = NULL;
    cg_count = 0;
    return rc;
}
