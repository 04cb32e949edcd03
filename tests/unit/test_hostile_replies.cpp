// The client's reading of what a server says (cli/client/reply_reader,
// run_deadline; cli/common/clean_text, ip_address): hostile values are a
// protocol error, ltest's own lines carry no escapes, --timeout's steps.
#include <nlohmann/json.hpp>

#include "clean_text.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "ip_address.hpp"
#include "reply_reader.hpp"
#include "run_deadline.hpp"
#include "test_support.hpp"

using namespace ltest;
using namespace std::chrono;
using nlohmann::json;

namespace {

int code_of_reply(const json& reply) {
    run_reading state;
    try {
        return read_run_message("run_reply", reply, state).exit_code;
    } catch (const ltest_error& e) {
        return -e.exit_code;  // negative: an error with that code
    }
}

}  // namespace

TEST_CASE("clean_text drops escape sequences and control characters, keeps UTF-8", "[hostile]") {
    CHECK(clean_text("a\x1b]0;title\x07" "b") == "ab");             // OSC ended by BEL
    CHECK(clean_text("a\x1b]0;title\x1b\\b") == "ab");              // OSC ended by ST
    CHECK(clean_text("a\x1b[2J\x1b[31;1mb\x1b[0m") == "ab");        // CSI
    CHECK(clean_text("a\xc2\x9b" "31mb") == "ab");                  // C1 CSI in UTF-8
    CHECK(clean_text("a\xc2\x85" "b") == "ab");                     // another C1 control: itself only
    CHECK(clean_text("a\x1bPdata\x1b\\b") == "ab");                 // DCS
    CHECK(clean_text("a\x1b(Bb") == "ab");                          // ESC with an intermediate byte
    CHECK(clean_text("one\ntwo\tthree\r") == "one two three ");     // one line
    CHECK(clean_text("a\x07\x08\x7f" "b") == "ab");
    CHECK(clean_text("h\xc3\xa9llo \xe2\x9c\x93") == "h\xc3\xa9llo \xe2\x9c\x93");
    CHECK(clean_text("\x1b]0;never ended") == "");
    CHECK(clean_text("\x1b") == "");
}

TEST_CASE("a run_reply's exit code is an integer 0-255 or a protocol error", "[hostile]") {
    CHECK(code_of_reply({{"status", "ok"}, {"exit_code", 0}}) == 0);
    CHECK(code_of_reply({{"status", "ok"}, {"exit_code", 255}}) == 255);
    for (json bad : {json(256), json(300), json(-1), json("0"), json(nullptr), json(1.5), json::array({0})})
        CHECK(code_of_reply({{"status", "ok"}, {"exit_code", bad}}) == -exit_code::protocol);
    CHECK(code_of_reply({{"status", "ok"}}) == -exit_code::protocol);
    CHECK(code_of_reply(json("not an object")) == -exit_code::protocol);
}

TEST_CASE("a run_reply's error is one clean notice", "[hostile]") {
    run_reading state;
    auto e = read_run_message("run_reply", {{"status", "error"}, {"exit_code", 78}, {"error", "bad\x1b[2J\nthing"}}, state);
    CHECK(e.what == run_event::kind::finished);
    CHECK(e.exit_code == 78);
    REQUIRE(e.notices.size() == 1);
    CHECK(e.notices[0] == "bad thing");
}

TEST_CASE("stream text passes as-is, a stream of the wrong shape is a protocol error", "[hostile]") {
    run_reading state;
    auto e = read_run_message("stream", {{"name", "stderr"}, {"text", "\x1b[31mred\x1b[0m"}}, state);
    CHECK(e.what == run_event::kind::output);
    CHECK(e.fd == 2);
    CHECK(e.text == "\x1b[31mred\x1b[0m");
    CHECK_THROWS_AS(read_run_message("stream", {{"name", 2}}, state), ltest_error);
    CHECK_THROWS_AS(read_run_message("stream", {{"text", nullptr}}, state), ltest_error);
    CHECK_THROWS_AS(read_run_message("input_request", {{"password", "yes"}}, state), ltest_error);
}

TEST_CASE("a queued status is said once", "[hostile]") {
    run_reading state;
    CHECK(read_run_message("run_status", {{"state", "queued"}, {"ahead", 2}}, state).notices.size() == 1);
    CHECK(read_run_message("run_status", {{"state", "queued"}, {"ahead", 1}}, state).notices.empty());
    CHECK_THROWS_AS(read_run_message("run_status", {{"state", "restarted"}, {"seconds", "1"}}, state), ltest_error);
}

TEST_CASE("status_text cleans names and refuses wrong types", "[hostile]") {
    json s{{"address", "tcp://x\x1b]0;t\x07"}, {"server_pid", 7}, {"kernel_name", "k"}, {"fork_unsafe", {"a\x1b[2J"}}};
    std::string text = status_text(s);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find("tcp://x (pid 7") != std::string::npos);
    CHECK(text.find("no (a)") != std::string::npos);
    s["server_pid"] = "7";
    CHECK_THROWS_AS(status_text(s), ltest_error);
    CHECK_THROWS_AS(status_text(json{{"preloaded", {1}}}), ltest_error);
    CHECK_THROWS_AS(status_text(json{{"speedups_off", "x"}}), ltest_error);
    CHECK_THROWS_AS(status_text(json{{"speedups_off", {1}}}), ltest_error);
}

TEST_CASE("status_text names the speed-ups off and why", "[hostile]") {
    CHECK(status_text(json::object()).find("speed-ups off:   none\n") != std::string::npos);
    json off{{"speedups_off", {{{"speedup", "fixtures parsed ahead"}, {"why", "pytest 9\x1b[2J keeps..."}}}}};
    std::string text = status_text(off);
    CHECK(text.find("speed-ups off:   1\n  fixtures parsed ahead: pytest 9 keeps...\n") != std::string::npos);
}

TEST_CASE("timeout: interrupt then kill after the grace then give up", "[hostile]") {
    run_deadline d{3.0};
    CHECK(d.interrupts_due(seconds(2)) == 0);
    CHECK(d.interrupts_due(milliseconds(3001)) == 1);
    CHECK(d.interrupts_due(seconds(3) + run_deadline::kill_grace) == 2);
    CHECK_FALSE(d.give_up(seconds(3) + run_deadline::kill_grace));
    CHECK(d.give_up(seconds(3) + run_deadline::kill_grace + run_deadline::give_up_grace));
    run_deadline none{0};
    CHECK(none.interrupts_due(hours(100)) == 0);
    CHECK_FALSE(none.give_up(hours(100)));
}

TEST_CASE("addresses: localhost is 127.0.0.1 and IPv6 goes in brackets", "[hostile]") {
    CHECK(canonical_ip("localhost") == "127.0.0.1");
    CHECK(canonical_ip("[::1]") == "::1");
    CHECK(canonical_ip("10.0.0.1") == "10.0.0.1");
    CHECK(is_ipv6("::1"));
    CHECK_FALSE(is_ipv6("127.0.0.1"));
    CHECK(tcp_endpoint("::1", 7070) == "tcp://[::1]:7070");
    CHECK(tcp_endpoint("127.0.0.1", 7070) == "tcp://127.0.0.1:7070");
    CHECK(connect_address("localhost", 1)->ss_family == AF_INET);
    CHECK(connect_address("[::1]", 1)->ss_family == AF_INET6);
    CHECK(connect_address("*", 1)->ss_family == AF_INET);
    CHECK_FALSE(connect_address("example.org", 1));
}
