// libFuzzer target: what ltest's server does with the bytes a peer sends to its
// ROUTER socket (cli/server/server.cpp, drain_clients and handle_client).
//
// Input layout: byte 0 selects the mode, the rest is split into ZeroMQ frames
// at every 0xFF byte (0xFF never occurs in UTF-8 text, so the seeds keep their
// JSON intact).
//   mode & 1 == 0  "raw":    the frames as they are, checked against the fixed
//                            key: almost everything must die at the signature.
//   mode & 1 == 1  "signed": the harness signs the frames itself (a peer that
//                            holds the key), so the header/content JSON and the
//                            run_request paths are exercised past the HMAC.
//                            With no <IDS|MSG> frame, one is put in front.
//
// Contract checked (anything else aborts, which libFuzzer reports as a crash):
//   * kernel_bridge::wire::deserialize throws only kernel_bridge::bad_message,
//     the one exception drain_clients catches;
//   * protocol::from_json (msg.content.get<run_spec>()) throws only
//     std::invalid_argument, and what it accepts is valid (absolute cwd,
//     0 <= workers, umask <= 0777) and survives to_json/from_json;
//   * everything else handle_client does with a verified message (msg_type,
//     msg_id, parent_id, the answers it serializes, the kernel code it builds)
//     throws nothing: nothing around handle_client catches.
//   mode & 0x80        "zmtp":   the rest is a byte stream from a server, as the
//                            client's own ZMTP code (cli/client/zmtp_dealer.cpp) reads
//                            it: a greeting, then frames and commands. It may
//                            throw only ltest_error (the client prints it).
//   mode & 0xC0 == 0x40 "reply": the client's reading of a hostile server's
//                            answer (cli/client/reply_reader.cpp): frames[0] is
//                            the msg_type, frames[1] the content's JSON. It may
//                            throw only ltest_error(protocol); a run's exit code
//                            is 0-255; ltest's own lines hold no control
//                            character or escape (clean_text).
// Inputs that once broke it (server bugs since fixed) are in regressions/.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>

#include "clean_text.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"
#include "reply_reader.hpp"
#include "zmtp_dealer.hpp"

namespace kb = kernel_bridge;
namespace proto = ltest::protocol;
using nlohmann::json;

namespace {

// The same key is in make_corpus.py, which signs the seed corpus with it.
const std::string fuzz_key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const std::string delimiter = "<IDS|MSG>";
constexpr unsigned char separator = 0xFF;

const kb::wire& server_wire() {
    static const kb::wire w("hmac-sha256", fuzz_key);
    return w;
}

[[noreturn]] void contract_broken(const char* where, const std::string& what) {
    std::fprintf(stderr, "\nwire_fuzzer: contract broken in %s: %s\n", where, what.c_str());
    std::abort();
}

std::vector<std::string> split_frames(const uint8_t* data, size_t size) {
    std::vector<std::string> frames(1);
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == separator)
            frames.emplace_back();
        else
            frames.back().push_back(static_cast<char>(data[i]));
    }
    return frames;
}

// The fuzzer as a peer holding the key: a correct signature over the four
// parts after the delimiter (missing parts are sent as "{}").
void sign_in_place(std::vector<std::string>& frames) {
    size_t d = 0;
    while (d < frames.size() && frames[d] != delimiter) ++d;
    if (d == frames.size()) {
        frames.insert(frames.begin(), {delimiter, std::string()});
        d = 0;
    } else if (d + 1 == frames.size()) {
        frames.emplace_back();
    }
    while (frames.size() < d + 6) frames.emplace_back("{}");
    frames[d + 1] = server_wire().sign(frames[d + 2], frames[d + 3], frames[d + 4], frames[d + 5]);
}

// server::send_to: an answer, built and serialized (not sent).
void answer(const std::string& client, const std::string& type, json content, const json& parent) {
    kb::message m = kb::make_message(type, std::move(content), "fuzz-session", parent);
    m.identities = {client};
    std::vector<std::string> out = server_wire().serialize(m);
    if (out.size() != 7) contract_broken("send_to", "serialize gave " + std::to_string(out.size()) + " frames");
}

// warm_kernel.cpp, runtime_call_code: the code of the run's execute request.
std::string runtime_call_code(const std::string& func, const json& arg) {
    return "__import__('ltest')." + func + "(__import__('json').loads(" + json(arg.dump()).dump() + "))";
}

void check_run_spec(const proto::run_spec& spec) {
    if (spec.cwd.empty() || spec.cwd[0] != '/') contract_broken("from_json", "accepted a relative cwd");
    if (spec.workers < 0) contract_broken("from_json", "accepted workers < 0");
    if (spec.umask > 0777) contract_broken("from_json", "accepted umask > 0777");
    for (const auto& [name, pair] : spec.rlimits)
        if (pair.soft > pair.hard) contract_broken("from_json", "accepted a soft limit above the hard one: " + name);
    if (spec.nice && (*spec.nice < -20 || *spec.nice > 19)) contract_broken("from_json", "accepted nice outside -20..19");
    json again = spec;
    proto::run_spec back;
    try {
        back = again.get<proto::run_spec>();
    } catch (const std::exception& e) {
        contract_broken("to_json/from_json", std::string("a spec it accepted does not read back: ") + e.what());
    }
    bool same = back.args == spec.args && back.cwd == spec.cwd && back.env == spec.env &&
                back.stdin_isatty == spec.stdin_isatty && back.stdout_isatty == spec.stdout_isatty &&
                back.stderr_isatty == spec.stderr_isatty &&
                back.stderr_is_stdout == spec.stderr_is_stdout && back.columns == spec.columns && back.lines == spec.lines &&
                back.workers == spec.workers && back.umask == (spec.umask < 0 ? -1 : spec.umask) &&
                back.rlimits == spec.rlimits && back.nice == spec.nice && back.stdin_file == spec.stdin_file;
    if (!same) contract_broken("to_json/from_json", "round trip changed the spec: " + again.dump());
}

// server::handle_client, step by step, for one verified message.
void handle_client(const kb::message& msg) {
    const std::string client = msg.identities.empty() ? std::string() : msg.identities.front();
    const std::string type = msg.msg_type();
    (void)msg.msg_id();  // the replay guard's key
    if (type == proto::run_request) {
        proto::run_spec spec;
        try {
            spec = msg.content.get<proto::run_spec>();
        } catch (const std::invalid_argument& e) {
            answer(client, proto::run_reply, json{{"status", "error"}, {"exit_code", 76}, {"error", e.what()}},
                   msg.header);
            return;
        }
        check_run_spec(spec);
        answer(client, proto::run_status, json{{"state", "starting"}, {"ahead", 0}}, msg.header);
        json request = spec;                             // start_handed_over: bytes escaped (byte_text.hpp)
        (void)runtime_call_code("serve", request);       // start_relayed
        (void)request.dump(-1, ' ', false, json::error_handler_t::replace);  // the hand-over
        (void)request["args"].dump();                    // its debug log line
        (void)msg.msg_id();  // run_job::request_id, which heard_from compares
    } else if (type == proto::keepalive) {
        (void)msg.parent_id();
    } else if (type == proto::input_reply) {
        // Read when this client's run waits for input: anything but a string is EOF.
        auto value = msg.content.find("value");
        (void)(value != msg.content.end() && value->is_string() ? value->get<std::string>() : std::string("\x04"));
    } else if (type == proto::interrupt_request) {
        answer(client, proto::run_reply,
               json{{"status", "ok"}, {"exit_code", 2}, {"error", "interrupted while waiting for the kernel"}}, msg.header);
    } else if (type == proto::status_request) {
        answer(client, proto::status_reply, json{{"address", "tcp://127.0.0.1:7070"}, {"runs", 0}}, msg.header);
    } else if (type == proto::shutdown_request) {
        answer(client, proto::shutdown_reply, json{{"status", "ok"}}, msg.header);
    } else {
        answer(client, proto::error_reply, json{{"status", "error"}, {"error", "unknown message type '" + type + "'"}},
               msg.header);
    }
}

// What zmtp_dealer does with a server's bytes (handshake, then take_message).
void read_as_client(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    try {
        if (in.size() < 64) return;  // the client waits for the rest
        ltest::zmtp::check_greeting(in.substr(0, 64));
        in.erase(0, 64);
        bool ready = false;  // the handshake, then take_message's commands
        while (auto f = ltest::zmtp::take_frame(in, 1 << 16)) {
            if (!ready)
                ready = ltest::zmtp::is_ready(*f);
            else if (f->command)
                ltest::zmtp::command_name(f->body);
        }
    } catch (const ltest::ltest_error&) {
    } catch (const std::exception& e) {
        contract_broken("zmtp", std::string("threw something else than ltest_error: ") + e.what());
    }
}

// A line ltest prints as its own: no C0/C1 control, DEL or ESC may be left.
void check_clean(const char* where, const std::string& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
        auto c = static_cast<unsigned char>(line[i]);
        bool c1 = c == 0xc2 && i + 1 < line.size() && (static_cast<unsigned char>(line[i + 1]) & 0xe0) == 0x80;
        if (c < 0x20 || c == 0x7f || c1) contract_broken(where, "a control character in ltest's own line: " +
                                                           json(line).dump(-1, ' ', false, json::error_handler_t::replace));
    }
}

// What run_command and status_command make of one answer (mode 0x40).
void read_reply(const uint8_t* data, size_t size) {
    std::vector<std::string> frames = split_frames(data, size);
    check_clean("clean_text", ltest::clean_text(frames[0]));
    if (frames.size() < 2) return;
    json content = json::parse(frames[1], nullptr, false);
    if (content.is_discarded()) return;  // wire::deserialize would have dropped it
    try {
        ltest::run_reading state{false, frames[0].size() % 2 == 1};
        ltest::run_event e = ltest::read_run_message(frames[0], content, state);
        for (const auto& line : e.notices) check_clean("read_run_message", line);
        if (e.what == ltest::run_event::kind::finished && (e.exit_code < 0 || e.exit_code > 255))
            contract_broken("read_run_message", "exit code " + std::to_string(e.exit_code));
    } catch (const ltest::ltest_error& e) {
        if (e.exit_code != ltest::exit_code::protocol) contract_broken("read_run_message", "not a protocol error");
    } catch (const std::exception& e) {
        contract_broken("read_run_message", std::string("threw something else than ltest_error: ") + e.what());
    }
    try {
        std::string text = ltest::status_text(content);
        std::size_t start = 0;
        for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
            check_clean("status_text", text.substr(start, nl - start));
    } catch (const ltest::ltest_error&) {
    } catch (const std::exception& e) {
        contract_broken("status_text", std::string("threw something else than ltest_error: ") + e.what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 0x80) {
        read_as_client(data + 1, size - 1);
        return 0;
    }
    if (data[0] & 0x40) {
        read_reply(data + 1, size - 1);
        return 0;
    }
    const bool sign = data[0] & 1;
    std::vector<std::string> frames = split_frames(data + 1, size - 1);
    if (sign) sign_in_place(frames);
    kb::message msg;
    try {
        msg = server_wire().deserialize(frames);
    } catch (const kb::bad_message&) {
        return 0;  // drain_clients: dropped and logged
    } catch (const std::exception& e) {
        contract_broken("wire::deserialize", std::string("threw something else than bad_message: ") + e.what());
    } catch (...) {
        contract_broken("wire::deserialize", "threw a non-std exception");
    }
    if (msg.msg_type().empty()) contract_broken("wire::deserialize", "accepted a header without msg_type");
    try {
        handle_client(msg);
    } catch (const std::exception& e) {
        contract_broken("handle_client", std::string("an exception escapes, the server would exit: ") + e.what());
    } catch (...) {
        contract_broken("handle_client", "a non-std exception escapes");
    }
    return 0;
}
