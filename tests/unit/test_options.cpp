// The command line (cli/common/options.cpp, zeroconf_options.cpp): every
// flag's happy path, its bad values (one-line errors, exit 64), the first
// `--` handing the rest to pytest, and the combinations refused.
#include <sstream>

#include "exit_codes.hpp"
#include "guarded_main.hpp"
#include "options_support.hpp"

using options_test::captured_stdout;
using options_test::in_empty_dir;
using options_test::parse;
using options_test::parse_error;
namespace fs = std::filesystem;

namespace {

// A bad command line is exit 64 with one line that contains every needle.
void check_usage_error(const std::vector<std::string>& args, const std::vector<std::string>& needles) {
    INFO("ltest " << [&] {
        std::string s;
        for (const auto& a : args) s += a + " ";
        return s;
    }());
    auto e = parse_error(args);
    std::string what = e.what();
    INFO("message: " << what);
    CHECK(e.exit_code == ltest::exit_code::usage);
    CHECK(what.find('\n') == std::string::npos);
    for (const auto& n : needles) CHECK_THAT(what, Catch::Contains(n));
}

// Each bad value of `flag` is refused, saying what it expects and quoting the value.
void check_bad_values(const std::string& flag, const std::vector<std::string>& values, const std::string& expects) {
    for (const auto& v : values) check_usage_error({flag, v}, {flag, expects, "'" + v + "'"});
}

}  // namespace

TEST_CASE("with no flags a client runs against the project's server with the documented defaults", "[options]") {
    in_empty_dir dir;
    auto o = parse({});
    REQUIRE(o);
    CHECK_FALSE(o->listen);
    CHECK_FALSE(o->status);
    CHECK_FALSE(o->stop);
    CHECK_FALSE(o->json);
    CHECK(o->ip == "127.0.0.1");
    CHECK_FALSE(o->port);
    CHECK(o->modules.empty());
    CHECK(o->kernel.empty());  // no kernelspec: the kernel runs on the chosen Python
    CHECK(o->python.empty());
    CHECK_FALSE(o->existing);
    CHECK(o->timeout == 0);
    CHECK(o->workers == 1);
    CHECK(o->verbosity == 0);
    CHECK(o->pytest_args.empty());
    CHECK(o->config_file.empty());
    CHECK(o->autostart);
    CHECK_FALSE(o->idle);
    CHECK_FALSE(o->watch);
    CHECK_FALSE(o->forget);
    CHECK(o->exclude.empty());
}

TEST_CASE("everything after the first `--` goes to pytest unchanged, another `--` included", "[options]") {
    in_empty_dir dir;
    auto o = parse({"-n", "2", "--", "-q", "--port", "5", "--", "-x", "--help"});
    REQUIRE(o);
    CHECK(o->workers == 2);
    CHECK_FALSE(o->port);  // --port after `--` is pytest's
    CHECK(o->pytest_args == std::vector<std::string>{"-q", "--port", "5", "--", "-x", "--help"});
    auto empty = parse({"--"});
    REQUIRE(empty);
    CHECK(empty->pytest_args.empty());
}

TEST_CASE("a flag ltest does not know fails with what to type instead", "[options]") {
    in_empty_dir dir;
    check_usage_error({"--tb=short", "-q", "tests/"},
                      {"--tb=short is not an ltest flag; pytest arguments go after `--`: ltest -- --tb=short -q tests/"});
    check_usage_error({"--json", "-k", "a and b", "--durations", "3", "--", "-x"},
                      {"--durations is not an ltest flag; pytest arguments go after `--`: ltest --json -- -k 'a and b' --durations 3 -x"});
    check_usage_error({"-l", "--bogus"}, {"--bogus", "(pytest arguments go after `--`)"});
}

TEST_CASE("a typo of an ltest flag gets its nearest", "[options]") {
    in_empty_dir dir;
    check_usage_error({"--wacth", "--", "-q"}, {"unknown flag --wacth; did you mean --watch?"});
    check_usage_error({"--stauts"}, {"did you mean --status?"});
    check_usage_error({"-l", "--modul", "x"}, {"did you mean --module?"});
    check_usage_error({"--timeuot=3"}, {"unknown flag --timeuot; did you mean --timeout?"});
}

TEST_CASE("the pytest flags typed before `--` in a run are pytest's, in order, ahead of the rest", "[options]") {
    in_empty_dir dir;
    auto o = parse({"-k", "normalize"});
    REQUIRE(o);
    CHECK(o->pytest_args == std::vector<std::string>{"-k", "normalize"});
    o = parse({"-v", "-x", "-n", "2", "tests/a.py", "-m", "slow", "--json", "-s", "--lf", "--", "-k", "b"});
    REQUIRE(o);
    CHECK(o->pytest_args == std::vector<std::string>{"-v", "-x", "tests/a.py", "-m", "slow", "-s", "--lf", "-k", "b"});
    CHECK(o->workers == 2);
    CHECK(o->json);
    CHECK(o->modules.empty());
    CHECK(o->verbosity == 0);
    o = parse({"-qq", "-kfoo", "-p", "no:cacheprovider", "--ff"});
    REQUIRE(o);
    CHECK(o->pytest_args == std::vector<std::string>{"-qq", "-kfoo", "-p", "no:cacheprovider", "--ff"});
    CHECK_FALSE(o->port);
    o = parse({"-p", "7171", "-q"});
    REQUIRE(o);
    CHECK(o->port == 7171);
    CHECK(o->pytest_args == std::vector<std::string>{"-q"});
    o = parse({"--watch", "-q", "tests/"});
    REQUIRE(o);
    CHECK(o->watch);
    CHECK(o->pytest_args == std::vector<std::string>{"-q", "tests/"});
}

TEST_CASE("a server (-l) takes -i, -p, repeated -m, --kernel and --existing", "[options]") {
    in_empty_dir dir;
    auto o = parse({"-l", "-i", "0.0.0.0", "-p", "7171", "-m", "json", "--module", "xml.dom", "--kernel", "k2"});
    REQUIRE(o);
    CHECK(o->listen);
    CHECK(o->ip == "0.0.0.0");
    CHECK(o->port == 7171);
    CHECK(o->modules == std::vector<std::string>{"json", "xml.dom"});
    CHECK(o->kernel == "k2");
    CHECK_FALSE(o->existing);

    auto named = parse({"--listen", "--existing", "kernel-1.json"});
    REQUIRE(named);
    CHECK(named->existing == "kernel-1.json");
    auto latest = parse({"-l", "--existing"});
    REQUIRE(latest);
    CHECK(latest->existing == "");  // present but empty: the most recent kernel
}

TEST_CASE("the --ip flag takes localhost as 127.0.0.1 and a bracketed IPv6 address without brackets", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"-i", "localhost"})->ip == "127.0.0.1");
    CHECK(parse({"--ip", "[::1]"})->ip == "::1");
    CHECK(parse({"--ip", "::1"})->ip == "::1");
}

TEST_CASE("the --ip flag refuses a host name or anything else that is not an IP address", "[options]") {
    in_empty_dir dir;
    check_bad_values("--ip", {"example.com", "", "1.2.3.4.5", "lo"}, "is not an IP address");
    CHECK(parse({"-i", "0.0.0.0"})->ip == "0.0.0.0");
    CHECK(parse({"-i", "*"})->ip == "*");
}

TEST_CASE("the --idle flag takes a finite number of seconds >= 0 and says so in one short line", "[options]") {
    in_empty_dir dir;
    check_bad_values("--idle", {"-1", "nan", "inf", "1e400", "x", ""}, ">= 0");
    CHECK(parse({"--idle", "0"})->idle == 0);
    CHECK(parse({"--idle", "2.5"})->idle == 2.5);
    CHECK(parse_error({"--idle", "-1"}).what() == std::string("--idle: expects a number of seconds >= 0 (0: never stop), got '-1'") +
          " (pytest arguments go after `--`)");
}

TEST_CASE("the -p flag takes a port from 1 to 65535 and nothing else", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"-p", "1"})->port == 1);
    CHECK(parse({"--port", "65535"})->port == 65535);
    for (const char* bad : {"0", "65536", "-3", "70.5"}) check_usage_error({"-p", bad}, {"--port"});
    CHECK(parse({"-p", "http"})->pytest_args == std::vector<std::string>{"-p", "http"});  // a word: pytest's plugin
    check_usage_error({"-p"}, {"--port"});  // its value missing
}

TEST_CASE("the status, stop and json flags", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"--status"})->status);
    CHECK(parse({"--stop"})->stop);
    auto o = parse({"--json", "--", "-q"});
    CHECK(o->json);
    CHECK_FALSE(o->status);
}

TEST_CASE("the -n flag takes a number of workers >= 1, or auto for one per CPU", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"-n", "4"})->workers == 4);
    CHECK(parse({"--workers", "1"})->workers == 1);
    CHECK(parse({"-n", "auto"})->workers == 0);
    check_bad_values("-n", {"0", "-2", "3x", "", "many", "99999999999"}, "expects a number of workers >= 1 or 'auto'");
}

TEST_CASE("the --timeout flag takes a finite number of seconds >= 0", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"--timeout", "2.5"})->timeout == 2.5);
    CHECK(parse({"--timeout", "0"})->timeout == 0);
    CHECK(parse({"--timeout", "30"})->timeout == 30);
    check_bad_values("--timeout", {"-1", "nan", "inf", "", "1s", "1e999"}, "expects a number of seconds >= 0");
}

TEST_CASE("the flags -q and -v set a server's verbosity and exclude each other", "[options]") {
    in_empty_dir dir;
    CHECK(parse({"-l", "-q"})->verbosity == -1);
    CHECK(parse({"-l", "--quiet"})->verbosity == -1);
    CHECK(parse({"-l", "-v"})->verbosity == 1);
    CHECK(parse({"-l", "--verbose"})->verbosity == 1);
    check_usage_error({"-l", "-q", "-v"}, {"excludes"});
}

TEST_CASE("the zero-configuration flags: --no-start, --idle, --watch, --forget", "[options]") {
    in_empty_dir dir;
    CHECK_FALSE(parse({"--no-start"})->autostart);
    CHECK(parse({"--idle", "0"})->idle == 0.0);
    CHECK(parse({"--idle", "90.5"})->idle == 90.5);
    for (const char* bad : {"-1", "soon"}) check_usage_error({"--idle", bad}, {"--idle"});
    auto w = parse({"--watch", "--", "-q"});
    CHECK(w->watch);
    CHECK(w->pytest_args == std::vector<std::string>{"-q"});
    CHECK(parse({"--forget"})->forget);
}

TEST_CASE("flags that belong to a server or to a run are refused in the other", "[options]") {
    in_empty_dir dir;
    check_usage_error({"--existing", "k.json"}, {"--existing needs -l/--listen"});
    check_usage_error({"--module", "json"}, {"-m/--module needs -l/--listen"});
    check_usage_error({"-l", "-n", "2"}, {"-n applies to a run"});
    check_usage_error({"-l", "-n", "auto"}, {"-n applies to a run"});
    check_usage_error({"-l", "--status"}, {"--status/--stop talk to a server; drop -l"});
    check_usage_error({"-l", "--stop"}, {"drop -l"});
    check_usage_error({"-l", "--", "-q"}, {"a server takes no pytest arguments"});
    for (const char* other : {"-l", "--status", "--stop", "--forget"})
        check_usage_error({"--watch", other}, {"--watch runs tests"});
    for (const char* other : {"-l", "--status", "--stop"})
        check_usage_error({"--forget", other}, {"--forget takes no other action"});
    check_usage_error({"--forget", "--", "-q"}, {"--forget takes no other action"});
}

TEST_CASE("the flags --help and --version print and return nothing to run", "[options]") {
    in_empty_dir dir;
    {
        captured_stdout out;
        CHECK_FALSE(parse({"--help"}));
        CHECK_THAT(out.str(), Catch::Contains("Everything after the first `--` goes to pytest unchanged"));
        CHECK_THAT(out.str(), Catch::Contains("64 usage"));
        CHECK_THAT(out.str(), Catch::Contains("--no-start"));
    }
    {
        captured_stdout out;
        CHECK_FALSE(parse({"-h", "--", "-q"}));
        CHECK_THAT(out.str(), Catch::Contains("--timeout"));
    }
    {
        captured_stdout out;
        CHECK_FALSE(parse({"-V"}));
        CHECK(out.str() == std::string("ltest ") + LTEST_VERSION + "\n");
    }
    captured_stdout out;
    CHECK_FALSE(parse({"--version", "--status"}));
    CHECK(out.str() == std::string("ltest ") + LTEST_VERSION + "\n");
}

TEST_CASE("a bad command line reaches the shell as exit 64 and one line on stderr", "[options]") {
    in_empty_dir dir;
    std::ostringstream err;
    auto* old = std::cerr.rdbuf(err.rdbuf());
    int code = ltest::guarded_main([] {
        parse({"-n", "zero", "--", "-q"});
        return 0;
    });
    std::cerr.rdbuf(old);
    CHECK(code == ltest::exit_code::usage);
    CHECK(err.str() == "ltest: -n: expects a number of workers >= 1 or 'auto', got 'zero'\n");
}

TEST_CASE("a deleted working directory has no project configuration: --status still parses", "[options]") {
    kb_test::temp_dir t;
    fs::path gone = t / "gone";
    fs::create_directories(gone);
    options_test::cwd_guard cwd(gone);
    fs::remove(gone);
    auto o = parse({"--status"});
    REQUIRE(o);
    CHECK(o->status);
    CHECK(o->config_file.empty());
}
