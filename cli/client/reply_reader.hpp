#pragma once
// How the client reads what a server tells it, as pure functions (no I/O):
// run_command and status_command act on the result, the fuzzer
// (tests/fuzz/wire_fuzzer.cpp) feeds them hostile content.
//
// A server is not trusted to be well-formed: a field of the wrong type, an
// exit code outside 0-255 (256 would wrap to 0, a pass) or of the wrong type
// ("0", null) is a protocol error (ltest_error, exit 76), never a pass and
// never an internal error. Text that ltest prints as its own line is cleaned
// of control characters (clean_text.hpp); test output is passed on as-is.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ltest {

// What one message about a run asks of the client.
struct run_event {
    enum class kind { nothing, output, input, finished };
    kind what = kind::nothing;
    int fd = 1;                        // output: 1 (stdout) or 2 (stderr)
    std::string text;                  // output, input prompt: the test's bytes, as they are
    bool password = false;             // input: do not echo
    std::vector<std::string> notices;  // ltest's own lines for stderr, cleaned, without "ltest: "
    int exit_code = 0;                 // finished: the run's code, 0-255
};

// What the client has already said, so that it says it once.
struct run_reading {
    bool told_busy = false;
    bool hang_suspected = false;  // the client had to interrupt the run: a fork_unsafe reason is worth showing
};

// One message of msg_type `type` answering the client's run request.
// Throws ltest_error(protocol) for content that breaks the protocol.
run_event read_run_message(const std::string& type, const nlohmann::json& content, run_reading& state);

// The exit code in a run_reply: an integer 0-255, else ltest_error(protocol).
int run_exit_code(const nlohmann::json& run_reply);

// `ltest --status`'s text from a status_reply; ltest_error(protocol) if malformed.
std::string status_text(const nlohmann::json& status_reply);

}  // namespace ltest
