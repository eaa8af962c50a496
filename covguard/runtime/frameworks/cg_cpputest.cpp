// cg_cpputest.cpp - covguard's CppUTest plugin (see cg_record.h).  covguard's compiler wrapper
// compiles this file and links it into every test executable that links CppUTest; a static
// initialiser installs the plugin, so neither the tests nor main() change.  Failure messages
// come from CppUTest's own output; this plugin records which test ran, in which order, and how
// it ended.  It allocates nothing with operator new (CppUTest's leak detector watches it).
#include <CppUTest/TestHarness.h>
#include <CppUTest/TestPlugin.h>
#include <CppUTest/TestRegistry.h>

#include "cg_record.h"

namespace {

CG_RECORD_MARKER("cpputest")

class CovguardPlugin : public TestPlugin {
  public:
    CovguardPlugin() : TestPlugin("covguard"), listed_(false) {}

    void preTestAction(UtestShell &test, TestResult &) override
    {
        if (!cg_rec_open("cpputest")) return;
        if (!listed_) {
            listed_ = true;
            if (cg_rec_listing()) list();
        }
        SimpleString name = test.getGroup() + "." + test.getName();
        cg_rec_begin(name.asCharString(), test.getFile().asCharString(),
                     static_cast<unsigned long>(test.getLineNumber()));
    }

    void postTestAction(UtestShell &test, TestResult &) override
    {
        if (!cg_rec_file) return;
        cg_rec_end(test.hasFailed() ? "FAIL" : "PASS");
    }

  private:
    void list()
    {
        for (UtestShell *t = TestRegistry::getCurrentRegistry()->getFirstTest(); t; t = t->getNext()) {
            SimpleString name = t->getGroup() + "." + t->getName();
            cg_rec_listed(t->willRun() ? "test" : "disabled", name.asCharString(), t->getFile().asCharString(),
                          static_cast<unsigned long>(t->getLineNumber()));
        }
    }
    bool listed_;
};

CovguardPlugin cg_plugin;

struct Installer {
    Installer() { TestRegistry::getCurrentRegistry()->installPlugin(&cg_plugin); }
    ~Installer() { cg_rec_done(); }
} cg_installer;

}  // namespace
