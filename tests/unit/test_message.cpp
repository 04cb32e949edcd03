// message: headers, ids and parent links.
#include <regex>
#include <set>

#include "kernel_bridge/message.hpp"
#include "test_support.hpp"

using namespace kernel_bridge;
using nlohmann::json;

TEST_CASE("make_header has the protocol 5.3 fields", "[message]") {
    json h = make_header("kernel_info_request", "my-session");
    for (const char* k : {"msg_id", "session", "username", "date", "msg_type", "version"}) {
        INFO("field " << k);
        REQUIRE(h.contains(k));
        CHECK(h.at(k).is_string());
    }
    CHECK(h.size() == 6);
    CHECK(h.at("msg_type") == "kernel_info_request");
    CHECK(h.at("session") == "my-session");
    CHECK(h.at("version") == "5.3");
    CHECK(std::string(protocol_version) == "5.3");
    CHECK_FALSE(h.at("msg_id").get<std::string>().empty());
    CHECK_FALSE(h.at("username").get<std::string>().empty());
    // ISO 8601, as Jupyter expects: 2024-01-31T12:34:56...
    std::string date = h.at("date").get<std::string>();
    CHECK(std::regex_search(date, std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")));
}

TEST_CASE("msg_ids are unique", "[message]") {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.insert(make_header("x", "s").at("msg_id").get<std::string>());
    CHECK(ids.size() == 1000);
    CHECK(new_id() != new_id());
}

TEST_CASE("make_message links the parent and exposes type and ids", "[message]") {
    json parent = make_header("execute_request", "s");
    message m = make_message("execute_reply", json{{"status", "ok"}}, "s", parent);
    CHECK(m.msg_type() == "execute_reply");
    CHECK(m.msg_id() == m.header.at("msg_id").get<std::string>());
    CHECK(m.parent_id() == parent.at("msg_id").get<std::string>());
    CHECK(m.parent_header == parent);
    CHECK(m.content == json{{"status", "ok"}});
    CHECK(m.metadata == json::object());
    CHECK(m.identities.empty());
    CHECK(m.buffers.empty());

    message orphan = make_message("status", json::object(), "s");
    CHECK(orphan.parent_header == json::object());
    CHECK(orphan.parent_id().empty());
}

TEST_CASE("message accessors tolerate odd headers", "[message]") {
    message m;
    CHECK(m.msg_type().empty());
    CHECK(m.msg_id().empty());
    m.header = json{{"msg_type", 5}, {"msg_id", nullptr}};
    CHECK(m.msg_type().empty());
    CHECK(m.msg_id().empty());
    m.parent_header = json::array();
    CHECK(m.parent_id().empty());
}
