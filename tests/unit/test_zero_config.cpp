// Issue 15's pure parts: project root detection (pytest's rootdir rules),
// which changes watch mode skips, the debounce of a burst of saves, the
// start lock's file name, the idle timer.
#include <chrono>
#include <thread>

#include "debounce.hpp"
#include "idle_timer.hpp"
#include "project_root.hpp"
#include "start_lock.hpp"
#include "test_support.hpp"
#include "watch_filter.hpp"

using kb_test::temp_dir;
using kb_test::write_text;
namespace fs = std::filesystem;
using namespace std::chrono;

TEST_CASE("pytest configuration files decide the project root") {
    CHECK(ltest::is_pytest_config("pytest.ini", ""));
    CHECK(ltest::is_pytest_config("pyproject.toml", "[project]\nname='x'\n[tool.pytest.ini_options]\naddopts='-q'\n"));
    CHECK_FALSE(ltest::is_pytest_config("pyproject.toml", "[tool.ltest]\npreload=['json']\n"));
    CHECK(ltest::is_pytest_config("tox.ini", "[tox]\n  [pytest]  \n"));
    CHECK_FALSE(ltest::is_pytest_config("tox.ini", "[testenv]\ncommands = pytest\n"));
    CHECK(ltest::is_pytest_config("setup.cfg", "[tool:pytest]\n"));
    CHECK_FALSE(ltest::is_pytest_config("setup.cfg", "[metadata]\nname = x\n"));
    CHECK_FALSE(ltest::is_pytest_config("setup.py", ""));
}

TEST_CASE("the project root is the nearest pytest config upward, else a pyproject.toml, else the start") {
    temp_dir t;
    fs::path root = fs::canonical(t.path());
    fs::create_directories(root / "proj/pkg/sub");
    write_text(root / "proj/tox.ini", "[pytest]\n");
    write_text(root / "proj/pkg/pyproject.toml", "[tool.ltest]\n");  // not pytest's: nearer, but skipped
    CHECK(ltest::project_root(root / "proj/pkg/sub") == root / "proj");
    CHECK(ltest::project_root(root / "proj/pkg/sub/") == root / "proj");
    write_text(root / "proj/pkg/sub/pytest.ini", "");
    CHECK(ltest::project_root(root / "proj/pkg/sub") == root / "proj/pkg/sub");

    fs::create_directories(root / "lib/src");
    write_text(root / "lib/pyproject.toml", "[project]\nname = 'lib'\n");
    CHECK(ltest::project_root(root / "lib/src") == root / "lib");  // no pytest config anywhere above
    fs::create_directories(root / "bare/deep");
    CHECK(ltest::project_root(root / "bare/deep/../deep") == root / "bare/deep");
}

TEST_CASE("watch mode skips caches, .git and editor files, and dot names outside git") {
    CHECK(ltest::always_skipped("__pycache__", true));
    CHECK(ltest::always_skipped(".pytest_cache", true));
    CHECK(ltest::always_skipped(".git", true));
    CHECK(ltest::always_skipped(".benchmarks", true));  // pytest-benchmark's, made by every run
    CHECK(ltest::always_skipped("pytest-cache-files-il8b1jpb", true));  // pytest 8+'s .pytest_cache, being made
    CHECK_FALSE(ltest::always_skipped("pytest-cache-files-il8b1jpb", false));
    CHECK_FALSE(ltest::always_skipped(".github", true));
    CHECK_FALSE(ltest::always_skipped("src", true));
    for (const char* f : {"4913", "test_a.py~", ".test_a.py.swp", ".#test_a.py", "x.pyc"})
        CHECK(ltest::always_skipped(f, false));
    CHECK_FALSE(ltest::always_skipped("test_a.py", false));
    CHECK_FALSE(ltest::always_skipped(".env", false));
    CHECK(ltest::skipped_without_git(".env", false));
    CHECK(ltest::skipped_without_git(".venv", true));
    CHECK_FALSE(ltest::skipped_without_git("conftest.py", false));
}

TEST_CASE("outside a git work tree, ignore_rules keeps what the names allow") {
    temp_dir t;
    ltest::ignore_rules rules(t.path());
    REQUIRE_FALSE(rules.in_git());
    auto kept = rules.keep({t / "a.py", t / ".hidden", t / "b.py~"}, false);
    CHECK(kept == std::vector<fs::path>{t / "a.py"});
}

TEST_CASE("a burst of changes is one run, due a quiet period after the last") {
    ltest::debouncer d(milliseconds(100));
    auto t0 = ltest::debouncer::clock::now();
    CHECK_FALSE(d.due());
    CHECK_FALSE(d.fire(t0));
    for (int i = 0; i < 10; ++i) d.change(t0 + milliseconds(10 * i));  // ten saves in 100 ms
    CHECK(*d.due() == t0 + milliseconds(190));
    CHECK_FALSE(d.fire(t0 + milliseconds(189)));
    CHECK(d.fire(t0 + milliseconds(190)));
    CHECK_FALSE(d.fire(t0 + milliseconds(500)));  // consumed: one run for the burst
    d.change(t0 + milliseconds(600));
    CHECK(d.fire(t0 + milliseconds(700)));
}

TEST_CASE("one start lock per project root and kernelspec") {
    auto a = ltest::start_lock_path("/p", "python3");
    CHECK(a == ltest::start_lock_path("/p", "python3"));
    CHECK(a != ltest::start_lock_path("/q", "python3"));
    CHECK(a != ltest::start_lock_path("/p", "other"));
    CHECK(a.filename().string().rfind("ltest-start-", 0) == 0);
}

TEST_CASE("the idle timer expires only after the whole idle time without activity") {
    ltest::idle_timer never(std::nullopt), zero(0.0);
    CHECK_FALSE(never.expired(false));
    CHECK_FALSE(zero.expired(false));
    ltest::idle_timer t(0.5);
    CHECK_FALSE(t.expired(false));
    std::this_thread::sleep_for(milliseconds(800));
    CHECK_FALSE(t.expired(true));  // a run in flight restarts it
    CHECK_FALSE(t.expired(false));
    std::this_thread::sleep_for(milliseconds(800));
    CHECK(t.expired(false));
}
