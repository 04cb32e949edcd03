// [tool.ltest] in pyproject.toml (cli/common/config.cpp): where it is found,
// every key, the errors for bad TOML, unknown keys and wrong types (exit 64,
// one line naming file and line), and the command line winning over it.
#include "config.hpp"
#include "exit_codes.hpp"
#include "options_support.hpp"

using kb_test::temp_dir;
using kb_test::write_text;
using options_test::cwd_guard;
using options_test::parse;
using options_test::parse_error;
namespace fs = std::filesystem;

namespace {

// The usage error find_project_config throws for this pyproject.toml.
std::string config_error(const std::string& toml_text) {
    temp_dir t;
    write_text(t / "pyproject.toml", toml_text);
    try {
        ltest::find_project_config(t.path());
    } catch (const ltest::ltest_error& e) {
        std::string what = e.what();
        INFO("message: " << what);
        CHECK(e.exit_code == ltest::exit_code::usage);
        CHECK(what.find('\n') == std::string::npos);
        CHECK_THAT(what, Catch::StartsWith((t / "pyproject.toml").string() + ":"));
        return what;
    }
    FAIL("no error for:\n" << toml_text);
    return "";
}

}  // namespace

TEST_CASE("no pyproject.toml up to the root is no configuration", "[config]") {
    temp_dir t;
    fs::create_directories(t / "a/b");
    CHECK_FALSE(ltest::find_project_config(t / "a/b"));
}

TEST_CASE("the nearest pyproject.toml with a [tool.ltest] table counts, others are passed over", "[config]") {
    temp_dir t;
    fs::create_directories(t / "proj/pkg/sub");
    write_text(t / "proj/pyproject.toml", "[tool.ltest]\nkernel = 'outer'\n");
    write_text(t / "proj/pkg/pyproject.toml", "[project]\nname = 'pkg'\n[tool.pytest.ini_options]\n");
    auto c = ltest::find_project_config(t / "proj/pkg/sub");
    REQUIRE(c);
    CHECK(c->file == fs::absolute(t / "proj/pyproject.toml"));
    CHECK(c->kernel == "outer");
    write_text(t / "proj/pkg/pyproject.toml", "[tool.ltest]\nkernel = 'inner'\n");
    CHECK(ltest::find_project_config(t / "proj/pkg/sub")->kernel == "inner");
}

TEST_CASE("an empty [tool.ltest] is a configuration that sets nothing", "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml", "[tool.ltest]\n");
    auto c = ltest::find_project_config(t.path());
    REQUIRE(c);
    CHECK_FALSE(c->preload);
    CHECK_FALSE(c->kernel);
    CHECK_FALSE(c->ip);
    CHECK_FALSE(c->port);
    CHECK_FALSE(c->autostart);
    CHECK_FALSE(c->idle);
    CHECK_FALSE(c->exclude);
}

TEST_CASE("every [tool.ltest] key is read", "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml",
               "[tool.ltest]\n"
               "preload = ['numpy', 'xml.dom']\n"
               "exclude = ['torch']\n"
               "kernel = 'k2'\n"
               "ip = '::1'\n"
               "port = 7272\n"
               "autostart = false\n"
               "idle = 12.5\n");
    auto c = ltest::find_project_config(t.path());
    REQUIRE(c);
    CHECK(c->preload == std::vector<std::string>{"numpy", "xml.dom"});
    CHECK(c->exclude == std::vector<std::string>{"torch"});
    CHECK(c->kernel == "k2");
    CHECK(c->ip == "::1");
    CHECK(c->port == 7272);
    CHECK(c->autostart == false);
    CHECK(c->idle == 12.5);
    write_text(t / "pyproject.toml", "[tool.ltest]\nidle = 0\npreload = []\nautostart = true\ndelegate = true\n");
    c = ltest::find_project_config(t.path());
    CHECK(c->delegate == true);  // the pytest plugin's key (ltest.delegate) is no unknown key
    CHECK(c->idle == 0.0);  // an integer is seconds too
    CHECK(c->preload == std::vector<std::string>{});
    CHECK(c->autostart == true);
}

TEST_CASE("a pyproject.toml that is not TOML names its file and line", "[config]") {
    auto what = config_error("[project]\nname = 'x'\n[tool.ltest\npreload = []\n");
    CHECK_THAT(what, Catch::Contains("pyproject.toml:3: not valid TOML"));
    CHECK_THAT(config_error("[tool.ltest]\nkernel = 'unterminated\n"), Catch::Contains(":2: not valid TOML"));
}

TEST_CASE("an unknown key names itself, its line and the keys there are", "[config]") {
    auto what = config_error("[tool.ltest]\nkernel = 'k'\npreloads = ['json']\n");
    CHECK_THAT(what, Catch::Contains(":3: unknown key 'preloads' in [tool.ltest]"));
    CHECK_THAT(what, Catch::Contains("known: preload, exclude, python, kernel, ip, port, autostart, idle, delegate"));
}

TEST_CASE("a key of the wrong type says what it must be", "[config]") {
    struct bad {
        const char* line;
        const char* says;
    };
    for (auto [line, says] : {
             bad{"preload = 'json'", "[tool.ltest] preload must be an array of module names"},
             bad{"preload = ['json', 3]", "[tool.ltest] preload must be an array of module names"},
             bad{"preload = ['']", "[tool.ltest] preload must be an array of module names"},
             bad{"exclude = [true]", "[tool.ltest] exclude must be an array of module names"},
             bad{"autostart = 'yes'", "[tool.ltest] autostart must be true or false"},
             bad{"autostart = 1", "[tool.ltest] autostart must be true or false"},
             bad{"delegate = 'yes'", "[tool.ltest] delegate must be true or false"},
             bad{"idle = -1", "[tool.ltest] idle must be a number of seconds >= 0 (0: never stop)"},
             bad{"idle = '30'", "[tool.ltest] idle must be a number of seconds >= 0"},
             bad{"kernel = 3", "[tool.ltest] kernel must be a non-empty string"},
             bad{"ip = ['127.0.0.1']", "[tool.ltest] ip must be a non-empty string"},
             bad{"python = ''", "[tool.ltest] python must be a non-empty string"},
             bad{"python = 3", "[tool.ltest] python must be a non-empty string"},
             bad{"port = 0", "[tool.ltest] port must be an integer port (1-65535)"},
             bad{"port = 65536", "[tool.ltest] port must be an integer port"},
             bad{"port = '7070'", "[tool.ltest] port must be an integer port"},
             bad{"port = 7070.5", "[tool.ltest] port must be an integer port"},
         }) {
        INFO(line);
        auto what = config_error(std::string("[tool.ltest]\n\n") + line + "\n");
        CHECK_THAT(what, Catch::Contains(std::string(":3: ") + says));
    }
}

TEST_CASE("a client takes the kernel, ip, port, autostart, idle and exclude from [tool.ltest]", "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml",
               "[tool.ltest]\npreload = ['json']\nexclude = ['torch']\nkernel = 'k2'\nip = 'localhost'\n"
               "port = 7272\nautostart = false\nidle = 5\n");
    fs::create_directories(t / "tests");
    cwd_guard cwd(t / "tests");
    auto o = parse({"--", "-q"});
    REQUIRE(o);
    CHECK(o->config_file == fs::absolute(t / "pyproject.toml").string());
    CHECK(o->kernel == "k2");
    CHECK(o->ip == "127.0.0.1");  // canonical, as a flag's would be
    CHECK(o->port == 7272);
    CHECK_FALSE(o->autostart);
    CHECK(o->idle == 5.0);
    CHECK(o->exclude == std::vector<std::string>{"torch"});
    CHECK(o->modules.empty());  // preload is the server's
    auto server = parse({"-l"});
    CHECK(server->modules == std::vector<std::string>{"json"});
}

TEST_CASE("a flag wins over [tool.ltest]", "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml",
               "[tool.ltest]\npreload = ['json']\nkernel = 'k2'\nip = '::1'\nport = 7272\nautostart = true\nidle = 5\n");
    cwd_guard cwd(t.path());
    auto o = parse({"-l", "-m", "xml", "--kernel", "k3", "-i", "0.0.0.0", "-p", "7373", "--idle", "0"});
    REQUIRE(o);
    CHECK(o->modules == std::vector<std::string>{"xml"});
    CHECK(o->kernel == "k3");
    CHECK(o->ip == "0.0.0.0");
    CHECK(o->port == 7373);
    CHECK(o->idle == 0.0);
    CHECK_FALSE(parse({"--no-start"})->autostart);
    CHECK(parse({})->autostart);
}

TEST_CASE("a bad [tool.ltest] fails every command line in its project, --status included", "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml", "[tool.ltest]\nport = 'x'\n");
    cwd_guard cwd(t.path());
    for (auto args : {std::vector<std::string>{"--status"}, {"--", "-q"}, {"-l"}}) {
        auto e = parse_error(args);
        CHECK(e.exit_code == ltest::exit_code::usage);
        CHECK_THAT(std::string(e.what()), Catch::Contains("pyproject.toml:2: [tool.ltest] port must be"));
    }
}

TEST_CASE("a flag's combination rules hold for what [tool.ltest] set: preload does not make a client fail",
          "[config]") {
    temp_dir t;
    write_text(t / "pyproject.toml", "[tool.ltest]\npreload = ['json']\n");
    cwd_guard cwd(t.path());
    auto o = parse({"-n", "2", "--", "-q"});
    REQUIRE(o);
    CHECK(o->workers == 2);
    CHECK(o->modules.empty());
}
