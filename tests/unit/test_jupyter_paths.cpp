// jupyter_paths: the environment variables jupyter_core honours.
#include "kernel_bridge/jupyter_paths.hpp"
#include "test_support.hpp"

#include <fstream>

using namespace kernel_bridge;
using kb_test::env_guard;
namespace fs = std::filesystem;
using paths = std::vector<fs::path>;

namespace {
const std::optional<std::string> unset = std::nullopt;
}

TEST_CASE("jupyter_runtime_dir honours JUPYTER_RUNTIME_DIR", "[jupyter_paths]") {
    env_guard env({{"JUPYTER_RUNTIME_DIR", "/tmp/kb-rt"}, {"JUPYTER_DATA_DIR", "/tmp/kb-data"}});
    CHECK(jupyter_runtime_dir() == fs::path("/tmp/kb-rt"));
}

TEST_CASE("jupyter_runtime_dir falls back to the data dir", "[jupyter_paths]") {
    env_guard env({{"JUPYTER_RUNTIME_DIR", unset}, {"HOME", "/tmp/kb-home"}});
    SECTION("JUPYTER_DATA_DIR") {
        env.set("JUPYTER_DATA_DIR", "/tmp/kb-data");
        CHECK(jupyter_runtime_dir() == fs::path("/tmp/kb-data/runtime"));
    }
    SECTION("XDG_DATA_HOME") {
        env.set("JUPYTER_DATA_DIR", unset);
        env.set("XDG_DATA_HOME", "/tmp/kb-xdg");
        CHECK(jupyter_runtime_dir() == fs::path("/tmp/kb-xdg/jupyter/runtime"));
    }
    SECTION("HOME") {
        env.set("JUPYTER_DATA_DIR", unset);
        env.set("XDG_DATA_HOME", unset);
        CHECK(jupyter_runtime_dir() == fs::path("/tmp/kb-home/.local/share/jupyter/runtime"));
    }
    SECTION("an empty JUPYTER_RUNTIME_DIR counts as unset") {
        env.set("JUPYTER_RUNTIME_DIR", "");
        env.set("JUPYTER_DATA_DIR", "/tmp/kb-data");
        CHECK(jupyter_runtime_dir() == fs::path("/tmp/kb-data/runtime"));
    }
}

TEST_CASE("jupyter_data_path honours JUPYTER_PATH then JUPYTER_DATA_DIR", "[jupyter_paths]") {
    env_guard env({{"JUPYTER_PATH", "/tmp/kb-p1:/tmp/kb-p2"}, {"JUPYTER_DATA_DIR", "/tmp/kb-data"}});
    CHECK(jupyter_data_path() ==
          paths{"/tmp/kb-p1", "/tmp/kb-p2", "/tmp/kb-data", "/usr/local/share/jupyter", "/usr/share/jupyter"});

    SECTION("empty entries are skipped") {
        env.set("JUPYTER_PATH", ":/tmp/kb-p1::/tmp/kb-p2:");
        CHECK(jupyter_data_path() ==
              paths{"/tmp/kb-p1", "/tmp/kb-p2", "/tmp/kb-data", "/usr/local/share/jupyter", "/usr/share/jupyter"});
    }
    SECTION("without JUPYTER_PATH the user data dir comes first") {
        env.set("JUPYTER_PATH", unset);
        CHECK(jupyter_data_path() == paths{"/tmp/kb-data", "/usr/local/share/jupyter", "/usr/share/jupyter"});
    }
    SECTION("without JUPYTER_DATA_DIR the user data dir is under HOME") {
        env.set("JUPYTER_PATH", unset);
        env.set("JUPYTER_DATA_DIR", unset);
        env.set("XDG_DATA_HOME", unset);
        env.set("HOME", "/tmp/kb-home");
        CHECK(jupyter_data_path() ==
              paths{"/tmp/kb-home/.local/share/jupyter", "/usr/local/share/jupyter", "/usr/share/jupyter"});
    }
}

TEST_CASE("the chosen interpreter's sys.prefix/share/jupyter is searched as jupyter_core 5 does", "[jupyter_paths]") {
    kb_test::temp_dir t;
    env_guard env({{"JUPYTER_PATH", "/tmp/kb-p1"}, {"JUPYTER_DATA_DIR", "/tmp/kb-data"}, {"JUPYTER_PREFER_ENV_PATH", unset}});
    fs::create_directories(t / "venv" / "bin");
    std::ofstream(t / "venv" / "pyvenv.cfg") << "home = /usr/bin\n";
    fs::path venv_dir = t / "venv" / "share" / "jupyter", plain_dir = t / "prefix" / "share" / "jupyter";
    const fs::path local = "/usr/local/share/jupyter", system = "/usr/share/jupyter";
    SECTION("a virtualenv's before the user's") {
        CHECK(jupyter_data_path(t / "venv") == paths{"/tmp/kb-p1", venv_dir, "/tmp/kb-data", local, system});
    }
    SECTION("another prefix's after the user's") {
        CHECK(jupyter_data_path(t / "prefix") == paths{"/tmp/kb-p1", "/tmp/kb-data", plain_dir, local, system});
    }
    SECTION("JUPYTER_PREFER_ENV_PATH decides when set") {
        env.set("JUPYTER_PREFER_ENV_PATH", "no");
        CHECK(jupyter_data_path(t / "venv") == paths{"/tmp/kb-p1", "/tmp/kb-data", venv_dir, local, system});
        env.set("JUPYTER_PREFER_ENV_PATH", "1");
        CHECK(jupyter_data_path(t / "prefix") == paths{"/tmp/kb-p1", plain_dir, "/tmp/kb-data", local, system});
    }
    SECTION("Debian's /usr is a system dir, listed once") {
        CHECK(jupyter_data_path("/usr") == paths{"/tmp/kb-p1", "/tmp/kb-data", local, system});
    }
}

TEST_CASE("jupyter paths agree with jupyter_core", "[jupyter_paths][python]") {
    kb_test::temp_dir home;
    env_guard env({{"HOME", home.path().string()},
                   {"JUPYTER_PATH", "/tmp/kb-p1:/tmp/kb-p2"},
                   {"JUPYTER_DATA_DIR", unset},
                   {"JUPYTER_RUNTIME_DIR", unset},
                   {"JUPYTER_PREFER_ENV_PATH", unset},
                   {"JUPYTER_PLATFORM_DIRS", unset},
                   {"XDG_DATA_HOME", unset},
                   {"XDG_RUNTIME_DIR", "/tmp/kb-xdg-runtime"},
                   {"PYTHONUSERBASE", unset}});
    auto r = kb_test::run_python(
        "from jupyter_core import paths\n"
        "print(paths.jupyter_runtime_dir())\n"
        "for p in paths.jupyter_path(): print(p)\n");
    REQUIRE(r.exit_code == 0);
    auto lines = kb_test::split_lines(r.out);
    REQUIRE(lines.size() >= 2);
    CHECK(jupyter_runtime_dir() == fs::path(lines[0]));
    paths py(lines.begin() + 1, lines.end());
    CHECK(jupyter_data_path() == py);
}
