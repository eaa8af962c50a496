// cg_gtest.cc - covguard's GoogleTest listener (see cg_record.h).  covguard's compiler wrapper
// compiles this file and links it into every test executable that links GoogleTest; a static
// initialiser appends the listener, so neither the tests nor main() change.
#include <gtest/gtest.h>

#include "cg_record.h"

namespace {

CG_RECORD_MARKER("gtest")

bool cg_in_death_test_child()
{
    return !GTEST_FLAG_GET(internal_run_death_test).empty();
}

class CovguardListener : public ::testing::EmptyTestEventListener {
  public:
    void OnTestProgramStart(const ::testing::UnitTest &unit) override
    {
        if (cg_in_death_test_child() || !cg_rec_open("gtest")) return;
        if (!cg_rec_listing()) return;
        for (int i = 0; i < unit.total_test_suite_count(); ++i) {
            const ::testing::TestSuite *suite = unit.GetTestSuite(i);
            for (int j = 0; j < suite->total_test_count(); ++j) {
                const ::testing::TestInfo *info = suite->GetTestInfo(j);
                if (!info->is_reportable()) continue;  // filtered out or in another shard
                std::string name = std::string(info->test_suite_name()) + "." + info->name();
                cg_rec_listed(info->should_run() ? "test" : "disabled", name.c_str(), info->file(),
                              static_cast<unsigned long>(info->line()));
            }
        }
    }

    void OnTestStart(const ::testing::TestInfo &info) override
    {
        if (!cg_rec_file) return;
        std::string name = std::string(info.test_suite_name()) + "." + info.name();
        cg_rec_begin(name.c_str(), info.file(), static_cast<unsigned long>(info.line()));
    }

    void OnTestPartResult(const ::testing::TestPartResult &part) override
    {
        if (!cg_rec_file || !part.failed()) return;
        cg_rec_fail(part.file_name() ? part.file_name() : "", static_cast<unsigned long>(part.line_number() < 0 ? 0 : part.line_number()),
                    part.message());
    }

    void OnTestEnd(const ::testing::TestInfo &info) override
    {
        if (!cg_rec_file) return;
        const ::testing::TestResult *r = info.result();
        cg_rec_end(r->Failed() ? "FAIL" : r->Skipped() ? "SKIP" : "PASS");
    }

    void OnTestProgramEnd(const ::testing::UnitTest &) override { cg_rec_done(); }
};

const int cg_registered = (::testing::UnitTest::GetInstance()->listeners().Append(new CovguardListener), 0);

}  // namespace
