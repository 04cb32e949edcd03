// Kernelspecs: discovery order, argv substitution, parsing and its errors.
#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/kernelspec.hpp"

#include <nlohmann/json.hpp>
#include "test_support.hpp"

using namespace kernel_bridge;
using kb_test::require_throws_containing;
using kb_test::temp_dir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path write_spec(const fs::path& data_dir, const std::string& name, const json& spec) {
    fs::path dir = data_dir / "kernels" / name;
    kb_test::write_text(dir / "kernel.json", spec.dump(1));
    return dir;
}

json basic_spec(const std::string& display_name) {
    return json{{"argv", {"/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"}},
                {"display_name", display_name},
                {"language", "python"}};
}

}  // namespace

TEST_CASE("find_kernelspec: the first directory that has the kernel wins", "[kernelspec]") {
    temp_dir tmp;
    fs::path a = tmp / "a", b = tmp / "b", none = tmp / "none";
    fs::path a_dir = write_spec(a, "k", basic_spec("from a"));
    fs::path b_dir = write_spec(b, "k", basic_spec("from b"));
    write_spec(b, "only-b", basic_spec("only in b"));
    fs::create_directories(none / "kernels" / "k");  // a directory without kernel.json does not count

    kernelspec s = find_kernelspec("k", {none, a, b});
    CHECK(s.name == "k");
    CHECK(s.display_name == "from a");
    CHECK(s.resource_dir == a_dir);

    s = find_kernelspec("k", {b, a});
    CHECK(s.display_name == "from b");
    CHECK(s.resource_dir == b_dir);

    s = find_kernelspec("only-b", {a, b});
    CHECK(s.display_name == "only in b");
    CHECK(s.language == "python");
}

TEST_CASE("kernelspec command substitutes connection_file and resource_dir", "[kernelspec]") {
    temp_dir tmp;
    fs::path dir = write_spec(tmp.path(), "k",
                              json{{"argv",
                                    {"{resource_dir}/bin/kernel", "-f", "{connection_file}", "--plain",
                                     "--both={connection_file}:{resource_dir}", "{connection_file}{connection_file}"}},
                                   {"display_name", "K"}});
    kernelspec s = find_kernelspec("k", {tmp.path()});
    fs::path cf = "/run/user/1/jupyter/kernel-42.json";
    std::vector<std::string> cmd = s.command(cf);
    std::vector<std::string> expected = {
        dir.string() + "/bin/kernel",
        "-f",
        cf.string(),
        "--plain",
        "--both=" + cf.string() + ":" + dir.string(),
        cf.string() + cf.string(),
    };
    CHECK(cmd == expected);
    // argv itself keeps the placeholders.
    CHECK(s.argv[2] == "{connection_file}");
}

TEST_CASE("kernelspec substitution does not rescan what it inserted", "[kernelspec]") {
    kernelspec s;
    s.resource_dir = "/res";
    s.argv = {"{connection_file}"};
    // A connection file path that itself contains a placeholder stays as given.
    CHECK(s.command("/tmp/{connection_file}.json") == std::vector<std::string>{"/tmp/{connection_file}.json"});
}

TEST_CASE("kernelspec env interrupt_mode and defaults are parsed", "[kernelspec]") {
    temp_dir tmp;
    write_spec(tmp.path(), "full",
               json{{"argv", {"kernel", "{connection_file}"}},
                    {"display_name", "Full"},
                    {"language", "python"},
                    {"interrupt_mode", "message"},
                    {"env", {{"A", "1"}, {"PATH_EXTRA", "/opt/x"}}},
                    {"metadata", {{"debugger", true}}}});
    kernelspec s = find_kernelspec("full", {tmp.path()});
    CHECK(s.interrupt_mode == "message");
    CHECK(s.env == std::map<std::string, std::string>{{"A", "1"}, {"PATH_EXTRA", "/opt/x"}});
    CHECK(s.display_name == "Full");
    CHECK(s.argv == std::vector<std::string>{"kernel", "{connection_file}"});

    write_spec(tmp.path(), "minimal", json{{"argv", {"kernel"}}});
    s = find_kernelspec("minimal", {tmp.path()});
    CHECK(s.interrupt_mode == "signal");
    CHECK(s.env.empty());
    CHECK(s.display_name == "minimal");
    CHECK(s.language.empty());

    write_spec(tmp.path(), "sig", json{{"argv", {"kernel"}}, {"interrupt_mode", "signal"}});
    CHECK(find_kernelspec("sig", {tmp.path()}).interrupt_mode == "signal");
}

TEST_CASE("kernelspec parse errors throw bad_file", "[kernelspec]") {
    temp_dir tmp;
    SECTION("bad interrupt_mode") {
        write_spec(tmp.path(), "k", json{{"argv", {"kernel"}}, {"interrupt_mode", "smoke-signals"}});
        require_throws_containing<bad_file>([&] { find_kernelspec("k", {tmp.path()}); },
                                            {"interrupt_mode", "kernel.json"});
    }
    SECTION("empty argv") {
        write_spec(tmp.path(), "k", json{{"argv", json::array()}, {"display_name", "K"}});
        require_throws_containing<bad_file>([&] { find_kernelspec("k", {tmp.path()}); }, {"argv", "kernel.json"});
    }
    SECTION("no argv") {
        write_spec(tmp.path(), "k", json{{"display_name", "K"}});
        require_throws_containing<bad_file>([&] { find_kernelspec("k", {tmp.path()}); }, {"argv"});
    }
    SECTION("argv of the wrong type") {
        write_spec(tmp.path(), "k", json{{"argv", "python -m ipykernel"}});
        CHECK_THROWS_AS(find_kernelspec("k", {tmp.path()}), bad_file);
    }
    SECTION("env of the wrong type") {
        write_spec(tmp.path(), "k", json{{"argv", {"kernel"}}, {"env", {{"A", 1}}}});
        CHECK_THROWS_AS(find_kernelspec("k", {tmp.path()}), bad_file);
    }
    SECTION("not JSON") {
        kb_test::write_text(tmp / "kernels" / "k" / "kernel.json", "{\"argv\": [");
        require_throws_containing<bad_file>([&] { find_kernelspec("k", {tmp.path()}); }, {"kernel.json"});
    }
    SECTION("read_kernelspec on a directory without kernel.json") {
        require_throws_containing<bad_file>([&] { read_kernelspec("k", tmp / "nowhere"); }, {"kernel.json"});
    }
}

TEST_CASE("find_kernelspec on a missing kernel throws no_such_kernel naming every dir", "[kernelspec]") {
    temp_dir tmp;
    fs::path a = tmp / "first", b = tmp / "second", c = tmp / "third";
    write_spec(b, "other", basic_spec("other"));
    require_throws_containing<no_such_kernel>([&] { find_kernelspec("ghost", {a, b, c}); },
                                              {"ghost", a.string(), b.string(), c.string()});
    // no_such_kernel is a bridge_error, so a caller can catch the family.
    CHECK_THROWS_AS(find_kernelspec("ghost", {}), bridge_error);
}
