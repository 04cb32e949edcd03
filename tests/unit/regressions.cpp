// kernel_bridge bugs found by these tests and fixed: kept as regression tests.
#include "kernel_bridge/connection_file.hpp"
#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/kernelspec.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "test_support.hpp"

using namespace kernel_bridge;
using nlohmann::json;
namespace fs = std::filesystem;

// connection_file.cpp from_json reads the optional keys with json::value(),
// which throws nlohmann::json::type_error (not bad_file) when the key is
// present with the wrong type; read_connection_file only converts parse_error
// and bad_file, so the type_error escapes it too.
TEST_CASE("regression: a wrongly typed optional connection key throws bad_file naming it", "[connection_file][regression]") {
    json base = {{"ip", "127.0.0.1"}, {"shell_port", 1}, {"iopub_port", 2}, {"stdin_port", 3},
                 {"control_port", 4}, {"hb_port", 5}, {"key", "k"}};
    for (const char* key : {"transport", "signature_scheme", "kernel_name"}) {
        DYNAMIC_SECTION("wrong type for " << key) {
            json j = base;
            j[key] = 42;
            kb_test::require_throws_containing<bad_file>([&] { (void)j.get<connection_info>(); }, {key});

            kb_test::temp_dir tmp;
            kb_test::write_text(tmp / "kernel-t.json", j.dump());
            kb_test::require_throws_containing<bad_file>([&] { read_connection_file(tmp / "kernel-t.json"); }, {key});
        }
    }
}

// kernelspec.cpp command() substitutes {connection_file} first and then scans
// the result for {resource_dir}, so a connection file path containing the
// text "{resource_dir}" is rewritten. jupyter_client substitutes both in one
// pass over the original argv.
TEST_CASE("regression: kernelspec substitution is a single pass over argv", "[kernelspec][regression]") {
    kernelspec s;
    s.resource_dir = "/res";
    s.argv = {"-f", "{connection_file}"};
    CHECK(s.command("/tmp/{resource_dir}/kernel-1.json") ==
          std::vector<std::string>{"-f", "/tmp/{resource_dir}/kernel-1.json"});
}

// private_file.cpp write_private_file opens "<path>.tmp<pid>" with
// O_CREAT|O_TRUNC and mode 0600; the mode only applies to a new file, so a
// stale temp file left by a crash (and a reused pid) keeps its old mode, and
// rename() then publishes the key world-readable.
TEST_CASE("regression: a stale temp file does not make the connection file readable", "[connection_file][regression]") {
    kb_test::temp_dir tmp;
    fs::path file = tmp / "kernel-stale.json";
    fs::path stale = file;
    stale += ".tmp" + std::to_string(::getpid());
    kb_test::write_text(stale, "");
    fs::permissions(stale, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                               fs::perms::others_read);
    write_connection_file(file, new_connection_info("127.0.0.1", "python3"));
    CHECK(kb_test::file_mode(file) == 0600u);
}
