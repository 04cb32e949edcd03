// Wire framing and signing, checked against Python's hmac and jupyter_client.
#include <algorithm>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/message.hpp"
#include "kernel_bridge/signer.hpp"
#include "kernel_bridge/wire.hpp"
#include "kernel_bridge/zmq/xeus_signer.hpp"
#include "test_support.hpp"

using namespace kernel_bridge;
using nlohmann::json;

namespace {

const std::string key = "5ec7e7-key-for-tests-0123456789abcdef";

message sample_message() {
    message m = make_message("execute_request",
                             json{{"code", "print(\"h\u00e9llo\")"}, {"silent", false}, {"n", 3}},
                             "session-1", make_header("kernel_info_request", "session-0"));
    m.identities = {"router-id-1", std::string("id\0two", 6)};
    m.metadata = json{{"trace", "yes"}};
    m.buffers = {std::string("\x00\x01\x02 binary", 10), "second"};
    return m;
}

// The four frames after the delimiter and signature, from a serialized message.
std::vector<std::string> signed_parts(const std::vector<std::string>& frames) {
    auto d = std::find(frames.begin(), frames.end(), "<IDS|MSG>");
    REQUIRE(d != frames.end());
    REQUIRE(frames.end() - d >= 6);
    return {d[2], d[3], d[4], d[5]};
}

}  // namespace

TEST_CASE("wire serialize then deserialize roundtrips every part", "[wire]") {
    wire w("hmac-sha256", key);
    message in = sample_message();
    std::vector<std::string> frames = w.serialize(in);
    const std::vector<std::string>& raw = frames;
    REQUIRE(raw.size() == 2 + 6 + 2);
    CHECK(raw[0] == "router-id-1");
    CHECK(raw[1] == std::string("id\0two", 6));
    CHECK(raw[2] == "<IDS|MSG>");
    CHECK(raw[3].size() == 64);  // hex sha256
    CHECK(raw[8] == std::string("\x00\x01\x02 binary", 10));
    CHECK(raw[9] == "second");

    message out = w.deserialize(frames);
    CHECK(out.identities == in.identities);
    CHECK(out.header == in.header);
    CHECK(out.parent_header == in.parent_header);
    CHECK(out.metadata == in.metadata);
    CHECK(out.content == in.content);
    CHECK(out.buffers == in.buffers);
    CHECK(out.msg_type() == "execute_request");
    CHECK(out.msg_id() == in.msg_id());
    CHECK(out.parent_id() == in.parent_header.at("msg_id").get<std::string>());
}

TEST_CASE("wire roundtrips a message without identities or buffers", "[wire]") {
    wire w("hmac-sha256", key);
    message in = make_message("status", json{{"execution_state", "idle"}}, "s");
    std::vector<std::string> frames = w.serialize(in);
    CHECK(frames.size() == 6);
    message out = w.deserialize(frames);
    CHECK(out.identities.empty());
    CHECK(out.buffers.empty());
    CHECK(out.content == in.content);
    CHECK(out.parent_header == json::object());
    CHECK(out.parent_id().empty());
}

TEST_CASE("wire signature equals Python hmac and jupyter_client Session.sign", "[wire][python]") {
    wire w("hmac-sha256", key);
    std::vector<std::string> frames = w.serialize(sample_message());
    std::vector<std::string> raw = frames;
    std::vector<std::string> parts = signed_parts(raw);
    std::string signature = raw[3];

    CHECK(w.sign(parts[0], parts[1], parts[2], parts[3]) == signature);

    std::vector<std::string> args = {kb_test::to_hex(key)};
    for (const auto& p : parts) args.push_back(kb_test::to_hex(p));
    auto r = kb_test::run_python(
        "import sys, hmac, hashlib\n"
        "from jupyter_client.session import Session\n"
        "key = bytes.fromhex(sys.argv[1])\n"
        "frames = [bytes.fromhex(a) for a in sys.argv[2:6]]\n"
        "h = hmac.new(key, digestmod=hashlib.sha256)\n"
        "for f in frames: h.update(f)\n"
        "print(h.hexdigest())\n"
        "print(Session(key=key).sign(frames).decode())\n",
        args);
    REQUIRE(r.exit_code == 0);
    auto lines = kb_test::split_lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == signature);
    CHECK(lines[1] == signature);
    // The server's channels sign through xeus: the same signature.
    CHECK(make_xeus_signer("hmac-sha256", key)->sign(parts[0], parts[1], parts[2], parts[3]) == signature);
}

TEST_CASE("the sodium and xeus signers agree, and verify checks the length first", "[wire]") {
    auto sodium = make_sodium_signer("", key);
    auto xeus = make_xeus_signer("hmac-sha256", key);
    for (std::string content : {std::string("{}"), std::string(100000, 'x'), std::string("{\"a\": \"\xc3\xa9\"}")}) {
        std::string sig = sodium->sign("{\"msg_type\":\"t\"}", "{}", "{}", content);
        CHECK(sig.size() == 64);
        CHECK(sig == xeus->sign("{\"msg_type\":\"t\"}", "{}", "{}", content));
        CHECK(sodium->verify(sig, "{\"msg_type\":\"t\"}", "{}", "{}", content));
        CHECK_FALSE(sodium->verify(sig.substr(0, 1), "{\"msg_type\":\"t\"}", "{}", "{}", content));
        CHECK_FALSE(xeus->verify(sig + "00", "{\"msg_type\":\"t\"}", "{}", "{}", content));
    }
    CHECK_THROWS_AS(make_sodium_signer("hmac-md5", key), bad_file);
    CHECK(make_sodium_signer("hmac-sha256", "")->sign("h", "p", "m", "c").empty());
}

TEST_CASE("wire deserializes a message serialized by jupyter_client", "[wire][python]") {
    auto r = kb_test::run_python(
        "import sys\n"
        "from jupyter_client.session import Session\n"
        "s = Session(key=bytes.fromhex(sys.argv[1]), username=\"py\")\n"
        "parent = s.msg_header(\"execute_request\")\n"
        "msg = s.msg(\"stream\", content={\"name\": \"stdout\", \"text\": \"hi\\n\"}, parent=parent)\n"
        "for f in s.serialize(msg, ident=[b\"ident\"]): print(f.hex())\n"
        "print(parent[\"msg_id\"])\n",
        {kb_test::to_hex(key)});
    REQUIRE(r.exit_code == 0);
    auto lines = kb_test::split_lines(r.out);
    REQUIRE(lines.size() == 8);  // ident, delimiter, signature, 4 parts, parent id
    std::string parent_id = lines.back();
    lines.pop_back();
    std::vector<std::string> frames;
    for (const auto& hex : lines) {
        std::string bytes;
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        frames.push_back(bytes);
    }
    wire w("hmac-sha256", key);
    message m = w.deserialize(frames);
    CHECK(m.identities == std::vector<std::string>{"ident"});
    CHECK(m.msg_type() == "stream");
    CHECK(m.header.at("username") == "py");
    CHECK(m.content.at("text") == "hi\n");
    CHECK(m.parent_id() == parent_id);

    SECTION("and rejects it under another key") {
        // Rebuild the same frames (deserialize consumed them) and check with a different key.
        std::vector<std::string> again;
        for (const auto& hex : lines) {
            std::string bytes;
            for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
                bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
            again.push_back(bytes);
        }
        wire other("hmac-sha256", "some-other-key");
        CHECK_THROWS_AS(other.deserialize(again), bad_message);
    }
}

// A signed message's frames, to be spoiled one defect at a time.
struct signed_frames {
    wire w{"hmac-sha256", key};
    std::vector<std::string> raw = w.serialize(sample_message());  // 2 ids, delimiter at 2, signature at 3
    static constexpr std::size_t sig = 3, header = 4, content = 7;

    // Signs four parts as the real key would, so only the targeted defect remains.
    std::vector<std::string> resigned(std::vector<std::string> f) {
        f[sig] = w.sign(f[header], f[header + 1], f[header + 2], f[content]);
        return f;
    }
    void expect_bad(std::vector<std::string> f, const std::string& needle) {
        kb_test::require_throws_containing<bad_message>([&] { w.deserialize(f); }, {needle});
    }
};

TEST_CASE_METHOD(signed_frames, "wire rejects a wrong signature with bad_message", "[wire]") {
    SECTION("the untouched frames are accepted") {
        std::vector<std::string> m = raw;
        CHECK_NOTHROW(w.deserialize(m));
    }
    SECTION("wrong signature of the right length") {
        auto f = raw;
        f[sig][0] = f[sig][0] == 'a' ? 'b' : 'a';
        expect_bad(f, "signature");
    }
    SECTION("tampered content under the original signature") {
        auto f = raw;
        f[content] = json{{"code", "import os; os.system(\"rm -rf /\")"}}.dump();
        expect_bad(f, "signature");
    }
    SECTION("signature of one byte") {
        auto f = raw;
        f[sig] = f[sig].substr(0, 1);
        expect_bad(f, "signature");
    }
    SECTION("empty signature on a signed wire") {
        auto f = raw;
        f[sig].clear();
        expect_bad(f, "signature");
    }
    SECTION("signature with one extra byte") {
        auto f = raw;
        f[sig] += "0";
        expect_bad(f, "signature");
    }
}

TEST_CASE_METHOD(signed_frames, "wire rejects malformed frames with bad_message, signed or not", "[wire]") {
    SECTION("missing delimiter") {
        auto f = raw;
        f.erase(f.begin() + 2);
        expect_bad(f, "delimiter");
    }
    SECTION("too few frames after the delimiter") {
        auto f = raw;
        f.resize(2 + 5);  // delimiter, signature, header, parent, metadata: no content
        expect_bad(f, "few frames");
    }
    SECTION("nothing at all") {
        expect_bad({}, "delimiter");
    }
    SECTION("non-JSON header, correctly signed") {
        auto f = raw;
        f[header] = "{this is not json";
        expect_bad(resigned(f), "header");
    }
    SECTION("header that is JSON but not an object, correctly signed") {
        auto f = raw;
        f[header] = "[1,2,3]";
        expect_bad(resigned(f), "header");
    }
    SECTION("non-JSON content, correctly signed") {
        auto f = raw;
        f[content] = "\xff\xfe";
        expect_bad(resigned(f), "content");
    }
    SECTION("header without msg_type, correctly signed") {
        auto f = raw;
        json h = json::parse(f[header]);
        h.erase("msg_type");
        f[header] = h.dump();
        expect_bad(resigned(f), "msg_type");
    }
}

TEST_CASE("an unsigned wire sends and accepts an empty signature", "[wire]") {
    wire w("hmac-sha256", "");
    message in = sample_message();
    std::vector<std::string> frames = w.serialize(in);
    std::vector<std::string> raw = frames;
    CHECK(raw[3].empty());
    CHECK(w.sign("a", "b", "c", "d").empty());
    message out = w.deserialize(frames);
    CHECK(out.content == in.content);

    // An empty scheme is accepted too, and the signature frame is not checked.
    wire unsigned_wire("", "");
    std::vector<std::string> m = raw;
    CHECK(unsigned_wire.deserialize(m).msg_type() == "execute_request");

    // Malformed frames are still rejected without a key.
    std::vector<std::string> no_delim = std::vector<std::string>{"a", "b", "c"};
    CHECK_THROWS_AS(w.deserialize(no_delim), bad_message);
}

TEST_CASE("a signed wire rejects frames from an unsigned sender", "[wire]") {
    wire plain("hmac-sha256", "");
    wire keyed("hmac-sha256", key);
    std::vector<std::string> frames = plain.serialize(sample_message());
    CHECK_THROWS_AS(keyed.deserialize(frames), bad_message);
}
