// Which Python a run means (python_choice.hpp), and which server a directory
// belongs to (project_root.hpp: server_root): path and file checks only.
#include <sys/stat.h>

#include <fstream>

#include "options_support.hpp"
#include "project_root.hpp"
#include "python_choice.hpp"

using namespace options_test;
using kb_test::env_guard;
using kb_test::temp_dir;
namespace fs = std::filesystem;

namespace {
const std::optional<std::string> unset = std::nullopt;

fs::path executable(const fs::path& file) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << "#!/bin/sh\n";
    ::chmod(file.c_str(), 0755);
    return file;
}
}  // namespace

TEST_CASE("the Python of a run: VIRTUAL_ENV, the project's .venv, [tool.ltest] python, python3 on PATH", "[python_choice]") {
    temp_dir t;
    fs::path root = t / "proj";
    fs::create_directories(root);
    fs::path a = executable(t / "a" / "python3"), b = executable(t / "b" / "python3");
    fs::create_directories(t / "c");  // a PATH entry without python3
    env_guard env({{"VIRTUAL_ENV", unset}, {"PATH", (t / "c").string() + ":" + (t / "a").string() + ":" +
                                                       (t / "b").string() + ":" + (t / "a").string()}});
    ltest::options o;
    using source = ltest::python_choice::source;

    auto c = ltest::choose_python(o, root);
    CHECK(c.from == source::path);
    CHECK(c.candidates == std::vector<std::string>{a.string(), b.string()});  // in order, each once
    CHECK(c.lock_key() == "python3 on PATH");

    o.config_python = b.string();
    c = ltest::choose_python(o, root);
    CHECK((c.from == source::config && c.candidates == std::vector<std::string>{b.string()}));

    fs::path venv = executable(root / ".venv" / "bin" / "python");
    c = ltest::choose_python(o, root);
    CHECK((c.from == source::project_venv && c.candidates == std::vector<std::string>{venv.string()}));
    CHECK(c.lock_key() == "python " + venv.string());

    fs::path active = executable(t / "active" / "bin" / "python");
    env.set("VIRTUAL_ENV", (t / "active").string() + "/");
    c = ltest::choose_python(o, root);
    CHECK((c.from == source::virtual_env && c.candidates == std::vector<std::string>{active.string()}));

    o.python = a.string();
    CHECK(ltest::choose_python(o, root).from == source::option);
}

TEST_CASE("a Python the rule names but that is not there is one clear error", "[python_choice]") {
    temp_dir t;
    ltest::options o;
    env_guard env({{"VIRTUAL_ENV", (t / "gone").string()}, {"PATH", (t / "empty").string()}});
    CHECK_THROWS_WITH(ltest::choose_python(o, t.path()), Catch::Contains("has no bin/python"));
    env.set("VIRTUAL_ENV", unset);
    o.config_file = (t / "pyproject.toml").string();
    o.config_python = (t / "py" / "python").string();
    CHECK_THROWS_WITH(ltest::choose_python(o, t.path()), Catch::Contains("[tool.ltest] python: no interpreter at"));
    o.config_python = "";
    CHECK_THROWS_WITH(ltest::choose_python(o, t.path()), Catch::Contains("no python3 on PATH"));
}

TEST_CASE("[tool.ltest] python is relative to its file, or a name on PATH", "[python_choice]") {
    temp_dir t;
    std::ofstream(t / "pyproject.toml") << "[tool.ltest]\npython = 'envs/py/bin/python'\n";
    fs::create_directories(t / "sub");
    cwd_guard cwd(t / "sub");
    CHECK(parse({})->config_python == (t / "envs/py/bin/python").lexically_normal().string());
    std::ofstream(t / "pyproject.toml") << "[tool.ltest]\npython = 'python3.11'\n";
    CHECK(parse({})->config_python == "python3.11");
    CHECK_THAT(std::string(parse_error({"--python", "p", "--kernel", "k"}).what()), Catch::Contains("give one"));
    std::ofstream(t / "pyproject.toml") << "[tool.ltest]\nkernel = 'k2'\n";
    auto o = parse({"--python", "/usr/bin/python3"});  // the flag wins over the file's kernel
    CHECK((o->kernel.empty() && o->python == "/usr/bin/python3"));
}

TEST_CASE("directories without a project marker share one server", "[python_choice]") {
    temp_dir t;
    fs::create_directories(t / "scratch" / "a");
    fs::create_directories(t / "proj" / "sub");
    std::ofstream(t / "proj" / "setup.py") << "";
    CHECK(ltest::server_root(t / "scratch" / "a").empty());
    CHECK(ltest::server_root(t / "proj" / "sub") == fs::canonical(t / "proj").string());
    CHECK(ltest::project_root(t / "scratch" / "a") == fs::canonical(t / "scratch" / "a"));  // pytest's rootdir is unchanged
    CHECK(ltest::root_text("", t / "scratch") ==
          fs::canonical(t / "scratch").string() + " has no project marker; such directories share one server");
}

TEST_CASE("a virtualenv's sys.prefix is its directory; another Python's, its bin's parent", "[python_choice]") {
    temp_dir t;
    fs::path py = executable(t / "venv" / "bin" / "python");
    std::ofstream(t / "venv" / "pyvenv.cfg") << "home = /usr/bin\n";
    CHECK(ltest::python_prefix(py) == t / "venv");
    CHECK(ltest::python_prefix("/usr/bin/python3") == "/usr");
}
