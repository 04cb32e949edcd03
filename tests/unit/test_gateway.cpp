// The gateway's parts that need no gateway (a real one is in
// tests/integration/test_gateway.py): its URL, the refusal lines, the flags
// and [tool.ltest] keys, and where the token comes from.
#include <sys/stat.h>

#include <cstdlib>

#include <kernel_bridge/gateway/gateway_rest.hpp>

#include "exit_codes.hpp"
#include "gateway_token.hpp"
#include "options_support.hpp"

namespace gw = kernel_bridge::gateway;
using kb_test::temp_dir;
using kb_test::write_text;
using options_test::cwd_guard;
using options_test::in_empty_dir;
using options_test::parse;
using options_test::parse_error;

namespace {

// Sets (or unsets) an environment variable for the scope.
class env_var {
public:
    env_var(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~env_var() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("a gateway URL gives host, port and base path", "[gateway]") {
    auto ep = gw::parse_url("http://gw.example:8888/prefix/");
    CHECK(ep.host == "gw.example");
    CHECK(ep.port == "8888");
    CHECK(ep.base == "/prefix");
    CHECK(ep.url() == "http://gw.example:8888/prefix");
    auto plain = gw::parse_url("127.0.0.1:9000");
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.port == "9000");
    CHECK(plain.base.empty());
    CHECK(gw::parse_url("http://gw").port == "80");
    auto v6 = gw::parse_url("http://[::1]:8888");
    CHECK(v6.host == "::1");
    CHECK(v6.port == "8888");
}

TEST_CASE("a gateway URL ltest cannot use is one line saying why", "[gateway]") {
    for (const char* bad : {"https://gw:8888", "ftp://gw", "http://:8888", "http://gw:port", "http://[::1:8888"}) {
        INFO(bad);
        try {
            gw::parse_url(bad);
            FAIL("no error");
        } catch (const gw::gateway_error& e) {
            std::string what = e.what();
            CHECK(what.find('\n') == std::string::npos);
            CHECK_THAT(what, Catch::Contains(bad));
        }
    }
}

TEST_CASE("a refusal names the gateway, the step, the status and the gateway's reason", "[gateway]") {
    auto ep = gw::parse_url("http://gw:8888");
    std::string limit = gw::refusal_line(ep, "start a kernel 'py'",
                                         {403, "Forbidden", R"({"reason": "Resource Limit", "message": "max 2\nkernels"})"});
    CHECK(limit == "the gateway at http://gw:8888 refused to start a kernel 'py': 403 Resource Limit: max 2 kernels");
    std::string token = gw::refusal_line(ep, "list its kernelspecs", {401, "Unauthorized", "not json"});
    CHECK_THAT(token, Catch::StartsWith("the gateway at http://gw:8888 refused to list its kernelspecs: 401 Unauthorized"));
    CHECK_THAT(token, Catch::Contains("LTEST_GATEWAY_TOKEN"));
}

TEST_CASE("a server's flags: --gateway and --gateway-kernels", "[gateway][options]") {
    in_empty_dir here;
    auto o = parse({"-l", "--gateway", "http://gw:8888", "--gateway-kernels", "3"});
    REQUIRE(o);
    CHECK(o->gateway == "http://gw:8888");
    CHECK(o->gateway_kernels == 3);
    auto run = parse_error({"--gateway", "http://gw:8888", "--", "-q"});
    CHECK(run.exit_code == ltest::exit_code::usage);
    CHECK_THAT(std::string(run.what()), Catch::Contains("ltest -l --gateway URL"));
    CHECK(parse_error({"-l", "--gateway-kernels", "2"}).exit_code == ltest::exit_code::usage);
    CHECK(parse_error({"-l", "--gateway", "http://gw", "--gateway-kernels", "0"}).exit_code == ltest::exit_code::usage);
    CHECK(parse_error({"-l", "--gateway", "http://gw", "--existing", "k.json"}).exit_code == ltest::exit_code::usage);
}

TEST_CASE("[tool.ltest] gateway keys fill what the command line left", "[gateway][config]") {
    temp_dir t;
    write_text(t / "pyproject.toml",
               "[tool.ltest]\ngateway = \"http://gw:8888\"\ngateway_kernels = 4\ngateway_token_file = \"secret/token\"\n"
               "workers_per_kernel = 6\n");
    cwd_guard in(t.path());
    auto o = parse({"-l"});
    REQUIRE(o);
    CHECK(o->gateway == "http://gw:8888");
    CHECK(o->gateway_kernels == 4);
    CHECK(o->gateway_token_file == (t / "secret/token").string());
    CHECK(o->workers_per_kernel == 6);
    auto flags = parse({"-l", "--gateway-kernels", "2"});
    REQUIRE(flags);
    CHECK(flags->gateway_kernels == 2);
    write_text(t / "pyproject.toml", "[tool.ltest]\ngateway_kernels = 0\n");
    auto e = parse_error({"-l"});
    CHECK(e.exit_code == ltest::exit_code::usage);
    CHECK_THAT(std::string(e.what()), Catch::Contains("gateway_kernels"));
    write_text(t / "pyproject.toml", "[tool.ltest]\nworkers_per_kernel = \"many\"\n");
    CHECK_THAT(std::string(parse_error({"-l"}).what()), Catch::Contains("workers_per_kernel"));
}

TEST_CASE("[tool.ltest] gateway_sync: send by default, or refuse", "[gateway][config]") {
    temp_dir t;
    cwd_guard in(t.path());
    write_text(t / "pyproject.toml", "[tool.ltest]\ngateway = \"http://gw:8888\"\n");
    auto o = parse({"-l"});
    REQUIRE(o);
    CHECK(o->gateway_sync == "send");
    write_text(t / "pyproject.toml", "[tool.ltest]\ngateway_sync = \"refuse\"\n");
    o = parse({"-l"});
    REQUIRE(o);
    CHECK(o->gateway_sync == "refuse");
    write_text(t / "pyproject.toml", "[tool.ltest]\ngateway_sync = \"rsync\"\n");
    auto e = parse_error({"-l"});
    CHECK(e.exit_code == ltest::exit_code::usage);
    CHECK_THAT(std::string(e.what()), Catch::Contains("gateway_sync must be \"send\" or \"refuse\""));
}

TEST_CASE("the gateway's token: the environment first, then a private file, never a flag", "[gateway]") {
    temp_dir t;
    ltest::options o;
    o.gateway_token_file = (t / "token").string();
    write_text(t / "token", "from-file\n");
    ::chmod((t / "token").c_str(), 0600);
    {
        env_var a("LTEST_GATEWAY_TOKEN", "from-ltest");
        env_var b("JUPYTER_GATEWAY_AUTH_TOKEN", "from-jupyter");
        CHECK(ltest::gateway_token(o) == "from-ltest");
    }
    {
        env_var a("LTEST_GATEWAY_TOKEN", nullptr);
        env_var b("JUPYTER_GATEWAY_AUTH_TOKEN", "from-jupyter");
        CHECK(ltest::gateway_token(o) == "from-jupyter");
    }
    env_var a("LTEST_GATEWAY_TOKEN", nullptr);
    env_var b("JUPYTER_GATEWAY_AUTH_TOKEN", nullptr);
    CHECK(ltest::gateway_token(o) == "from-file");
    ::chmod((t / "token").c_str(), 0644);  // readable by others: refused, the token not shown
    try {
        ltest::gateway_token(o);
        FAIL("no error for a token file others can read");
    } catch (const ltest::ltest_error& e) {
        CHECK(e.exit_code == ltest::exit_code::startup);
        std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("gateway_token_file"));
        CHECK(what.find("from-file") == std::string::npos);
    }
    CHECK(ltest::gateway_token(ltest::options{}).empty());
    CHECK(parse_error({"-l", "--gateway-token", "x"}).exit_code == ltest::exit_code::usage);  // no such flag
}
