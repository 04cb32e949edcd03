// Connection files: JSON conversion, private writes, new ports and keys, and
// the `--existing` lookup.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "kernel_bridge/connection_file.hpp"
#include "kernel_bridge/errors.hpp"
#include "test_support.hpp"

using namespace kernel_bridge;
using kb_test::require_throws_containing;
using kb_test::temp_dir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

connection_info sample_info() {
    connection_info c;
    c.transport = "tcp";
    c.ip = "10.1.2.3";
    c.shell_port = 50001;
    c.iopub_port = 50002;
    c.stdin_port = 50003;
    c.control_port = 50004;
    c.hb_port = 50005;
    c.key = "0123456789abcdef";
    c.signature_scheme = "hmac-sha256";
    c.kernel_name = "python3";
    return c;
}

void check_same(const connection_info& a, const connection_info& b) {
    CHECK(a.transport == b.transport);
    CHECK(a.ip == b.ip);
    CHECK(a.shell_port == b.shell_port);
    CHECK(a.iopub_port == b.iopub_port);
    CHECK(a.stdin_port == b.stdin_port);
    CHECK(a.control_port == b.control_port);
    CHECK(a.hb_port == b.hb_port);
    CHECK(a.key == b.key);
    CHECK(a.signature_scheme == b.signature_scheme);
    CHECK(a.kernel_name == b.kernel_name);
}

void set_mtime(const fs::path& p, std::chrono::seconds age) {
    fs::last_write_time(p, fs::file_time_type::clock::now() - age);
}

}  // namespace

TEST_CASE("connection_info to_json and from_json roundtrip", "[connection_file]") {
    connection_info in = sample_info();
    json j = in;
    CHECK(j.at("shell_port") == 50001);
    CHECK(j.at("hb_port") == 50005);
    CHECK(j.at("key") == "0123456789abcdef");
    CHECK(j.at("kernel_name") == "python3");
    connection_info out = j.get<connection_info>();
    check_same(in, out);

    // And through text, as it goes to disk.
    check_same(in, json::parse(j.dump()).get<connection_info>());
}

TEST_CASE("connection_info from_json fills the optional keys with defaults", "[connection_file]") {
    json j = sample_info();
    j.erase("transport");
    j.erase("signature_scheme");
    j.erase("kernel_name");
    connection_info c = j.get<connection_info>();
    CHECK(c.transport == "tcp");
    CHECK(c.signature_scheme == "hmac-sha256");
    CHECK(c.kernel_name.empty());
    CHECK(c.endpoint(c.shell_port) == "tcp://10.1.2.3:50001");
}

TEST_CASE("connection_info from_json with a missing key throws bad_file naming it", "[connection_file]") {
    for (const char* key : {"ip", "shell_port", "iopub_port", "stdin_port", "control_port", "hb_port", "key"}) {
        DYNAMIC_SECTION("missing " << key) {
            json j = sample_info();
            j.erase(key);
            require_throws_containing<bad_file>([&] { (void)j.get<connection_info>(); }, {key});
        }
    }
}

TEST_CASE("connection_info from_json with a wrongly typed key throws bad_file naming it", "[connection_file]") {
    std::vector<std::pair<std::string, json>> cases = {
        {"ip", 127},           {"shell_port", "fifty"},  {"iopub_port", json::array()},
        {"stdin_port", nullptr}, {"control_port", json::object()}, {"hb_port", "1"},
        {"key", 12345},
    };
    for (const auto& [key, value] : cases) {
        DYNAMIC_SECTION("wrong type for " << key) {
            json j = sample_info();
            j[key] = value;
            require_throws_containing<bad_file>([&] { (void)j.get<connection_info>(); }, {key});
        }
    }
}

TEST_CASE("connection_info from_json on a non-object throws bad_file", "[connection_file]") {
    CHECK_THROWS_AS(json::array({1, 2}).get<connection_info>(), bad_file);
    CHECK_THROWS_AS(json("text").get<connection_info>(), bad_file);
}

TEST_CASE("write_connection_file writes owner-only and creates the parent dir", "[connection_file]") {
    temp_dir tmp;
    fs::path file = tmp / "runtime" / "nested" / "kernel-1234.json";
    REQUIRE_FALSE(fs::exists(file.parent_path()));
    connection_info info = sample_info();

    write_connection_file(file, info);

    REQUIRE(fs::is_regular_file(file));
    CHECK(kb_test::file_mode(file) == 0600u);
    CHECK(fs::is_directory(file.parent_path()));
    CHECK(kb_test::file_mode(file.parent_path()) == 0700u);
    check_same(read_connection_file(file), info);
    // Nothing left behind from the atomic write.
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(file.parent_path())) names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"kernel-1234.json"});
    // What was written is plain JSON that a Jupyter tool can read.
    json on_disk = json::parse(kb_test::read_text(file));
    CHECK(on_disk.at("ip") == "10.1.2.3");
    CHECK(on_disk.at("signature_scheme") == "hmac-sha256");
}

TEST_CASE("write_connection_file replacing a world-readable file leaves it 0600", "[connection_file]") {
    temp_dir tmp;
    fs::path file = tmp / "kernel-x.json";
    kb_test::write_text(file, "{}");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    REQUIRE(kb_test::file_mode(file) == 0644u);

    connection_info info = sample_info();
    info.key = "another-key";
    write_connection_file(file, info);
    CHECK(kb_test::file_mode(file) == 0600u);
    CHECK(read_connection_file(file).key == "another-key");
}

TEST_CASE("read_connection_file reports missing and malformed files as bad_file", "[connection_file]") {
    temp_dir tmp;
    require_throws_containing<bad_file>([&] { read_connection_file(tmp / "absent.json"); }, {"absent.json"});

    kb_test::write_text(tmp / "garbage.json", "{not json");
    require_throws_containing<bad_file>([&] { read_connection_file(tmp / "garbage.json"); }, {"garbage.json"});

    json j = sample_info();
    j.erase("hb_port");
    kb_test::write_text(tmp / "partial.json", j.dump());
    require_throws_containing<bad_file>([&] { read_connection_file(tmp / "partial.json"); },
                                        {"partial.json", "hb_port"});
}

TEST_CASE("read_connection_file reads a file written by jupyter_client", "[connection_file][python]") {
    temp_dir tmp;
    fs::path file = tmp / "kernel-py.json";
    auto r = kb_test::run_python(
        "import sys\n"
        "from jupyter_client.connect import write_connection_file\n"
        "write_connection_file(fname=sys.argv[1], ip=\"127.0.0.1\", key=b\"secret-key\", kernel_name=\"python3\")\n",
        {file.string()});
    REQUIRE(r.exit_code == 0);
    connection_info c = read_connection_file(file);
    CHECK(c.ip == "127.0.0.1");
    CHECK(c.key == "secret-key");
    CHECK(c.kernel_name == "python3");
    CHECK(c.transport == "tcp");
    CHECK(c.signature_scheme == "hmac-sha256");
    std::set<int> ports{c.shell_port, c.iopub_port, c.stdin_port, c.control_port, c.hb_port};
    CHECK(ports.size() == 5);
}

TEST_CASE("new_connection_info gives five distinct ports and a 64 hex char key", "[connection_file]") {
    connection_info c = new_connection_info("127.0.0.1", "python3");
    CHECK(c.ip == "127.0.0.1");
    CHECK(c.kernel_name == "python3");
    CHECK(c.transport == "tcp");
    CHECK(c.signature_scheme == "hmac-sha256");
    std::set<int> ports{c.shell_port, c.iopub_port, c.stdin_port, c.control_port, c.hb_port};
    CHECK(ports.size() == 5);
    for (int p : ports) {
        CHECK(p > 0);
        CHECK(p < 65536);
    }
    REQUIRE(c.key.size() == 64);
    CHECK(std::all_of(c.key.begin(), c.key.end(),
                      [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || (ch >= 'a' && ch <= 'f'); }));
    // Fresh every time.
    CHECK(new_connection_info("127.0.0.1", "python3").key != c.key);
}

TEST_CASE("pick_free_port rejects what is not an IPv4 address", "[connection_file]") {
    CHECK_THROWS_AS(pick_free_port("not-an-ip"), bridge_error);
    CHECK(pick_free_port("127.0.0.1") > 0);
}

TEST_CASE("find_connection_file", "[connection_file]") {
    temp_dir tmp;
    fs::path rt = tmp / "runtime";
    fs::create_directories(rt);
    for (const char* n : {"kernel-aaa111.json", "kernel-bbb222.json", "kernel-ccc333.json", "kernel-ccc999.json",
                          "other.json", "kernel-zzz.txt"})
        kb_test::write_text(rt / n, "{}");
    set_mtime(rt / "kernel-aaa111.json", std::chrono::seconds(300));
    set_mtime(rt / "kernel-bbb222.json", std::chrono::seconds(10));   // newest kernel-*.json
    set_mtime(rt / "kernel-ccc333.json", std::chrono::seconds(200));
    set_mtime(rt / "kernel-ccc999.json", std::chrono::seconds(100));  // newest "ccc"
    set_mtime(rt / "other.json", std::chrono::seconds(1));            // newer, but not kernel-*
    set_mtime(rt / "kernel-zzz.txt", std::chrono::seconds(1));        // newer, but not .json

    SECTION("empty name picks the most recently modified kernel-*.json") {
        CHECK(find_connection_file("", rt) == rt / "kernel-bbb222.json");
        // Touching another one changes the answer.
        set_mtime(rt / "kernel-aaa111.json", std::chrono::seconds(2));
        CHECK(find_connection_file("", rt) == rt / "kernel-aaa111.json");
    }
    SECTION("a file name inside the runtime dir") {
        CHECK(find_connection_file("kernel-aaa111.json", rt) == rt / "kernel-aaa111.json");
        CHECK(find_connection_file("other.json", rt) == rt / "other.json");
    }
    SECTION("an absolute path anywhere") {
        fs::path elsewhere = tmp / "elsewhere" / "my-conn.json";
        kb_test::write_text(elsewhere, "{}");
        CHECK(find_connection_file(elsewhere.string(), rt) == elsewhere);
    }
    SECTION("a fragment matches kernel-*fragment*.json, newest first") {
        CHECK(find_connection_file("aaa", rt) == rt / "kernel-aaa111.json");
        CHECK(find_connection_file("bbb2", rt) == rt / "kernel-bbb222.json");
        CHECK(find_connection_file("ccc", rt) == rt / "kernel-ccc999.json");
        CHECK(find_connection_file("333", rt) == rt / "kernel-ccc333.json");
    }
    SECTION("no match throws bad_file") {
        require_throws_containing<bad_file>([&] { find_connection_file("nomatch", rt); }, {"nomatch", rt.string()});
        require_throws_containing<bad_file>([&] { find_connection_file("zzz", rt); }, {"zzz"});
        fs::path empty = tmp / "empty";
        fs::create_directories(empty);
        require_throws_containing<bad_file>([&] { find_connection_file("", empty); }, {empty.string()});
        require_throws_containing<bad_file>([&] { find_connection_file("", tmp / "does-not-exist"); },
                                            {"does-not-exist"});
    }
}
