// Bytes as JSON text (cli/common/byte_text): argv, cwd, environment and
// output that are not UTF-8 travel losslessly through nlohmann::json.
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "byte_text.hpp"
#include "protocol.hpp"

using namespace ltest;
using nlohmann::json;

namespace {

std::string all_bytes() {
    std::string s;
    for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
    return s;
}

}  // namespace

TEST_CASE("UTF-8 text travels unchanged, other bytes and NUL as U+0000 and two hex digits", "[byte_text]") {
    CHECK(bytes_to_text("plain /tmp/ünïcødé €") == "plain /tmp/ünïcødé €");
    CHECK(bytes_to_text("d\xff\xfe") == std::string("d\0ff\0fe", 7));
    CHECK(bytes_to_text(std::string("a\0b", 3)) == std::string("a\0" "00b", 5));
    CHECK(bytes_to_text("\xc3") == std::string("\0c3", 3));                      // cut sequence
    CHECK(bytes_to_text("\xc0\xaf") == std::string("\0c0\0af", 6));              // overlong '/'
    CHECK(bytes_to_text("\xed\xa0\x80") == std::string("\0ed\0a0\0" "80", 9));   // a surrogate
    CHECK(bytes_to_text("\xf4\x90\x80\x80").size() == 12);                        // above U+10FFFF
    CHECK(bytes_to_text("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");               // U+1F600 stays
}

TEST_CASE("every byte string comes back, and its text is valid JSON", "[byte_text]") {
    std::string bytes = all_bytes() + "\xe2\x82" + all_bytes() + "\xf0\x9f\x98\x80\xe2";
    std::string text = bytes_to_text(bytes);
    CHECK(text_to_bytes(text) == bytes);
    std::string wire = json(text).dump();  // nlohmann's default: throws on bytes that are not UTF-8
    CHECK(text_to_bytes(json::parse(wire).get<std::string>()) == bytes);
    CHECK(text_to_bytes(std::string("\0C3\0A9", 6)) == "\xc3\xa9");  // upper-case digits too
}

TEST_CASE("a NUL that escapes no byte is refused", "[byte_text]") {
    CHECK_THROWS_AS(text_to_bytes(std::string("a\0", 2)), std::invalid_argument);
    CHECK_THROWS_AS(text_to_bytes(std::string("a\0f", 3)), std::invalid_argument);
    CHECK_THROWS_AS(text_to_bytes(std::string("a\0zz", 4)), std::invalid_argument);
}

TEST_CASE("a run request's args, cwd and environment keep their bytes through JSON", "[byte_text][protocol]") {
    protocol::run_spec spec;
    spec.args = {"-k", "t\xe9st", std::string("x\0y", 3)};
    spec.cwd = "/tmp/d\xff\xfe";
    spec.env = {{"N\xff", "v\x80"}, {"PLAIN", "ü"}};
    std::string wire = json(spec).dump();  // would throw (type_error 316) if bytes were not escaped
    auto back = json::parse(wire).get<protocol::run_spec>();
    CHECK(back.args == spec.args);
    CHECK(back.cwd == spec.cwd);
    CHECK(back.env == spec.env);
    CHECK(json::parse(wire)["env"]["PLAIN"] == "ü");  // UTF-8 as it is
    json bad = json::parse(wire);
    bad["cwd"] = std::string("/a\0", 3);
    CHECK_THROWS_WITH(bad.get<protocol::run_spec>(), Catch::Contains("\"cwd\""));
    bad = json::parse(wire);
    bad["env"]["X"] = std::string("\0zz", 3);
    CHECK_THROWS_AS(bad.get<protocol::run_spec>(), std::invalid_argument);
}
