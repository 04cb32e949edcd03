#include "kernel_bridge/message.hpp"

#include <xeus/xguid.hpp>
#include <xeus/xmessage.hpp>

namespace kernel_bridge {
using nlohmann::json;

static std::string string_field(const json& j, const char* key) {
    if (!j.is_object()) return {};
    auto it = j.find(key);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

std::string message::msg_type() const { return string_field(header, "msg_type"); }
std::string message::msg_id() const { return string_field(header, "msg_id"); }
std::string message::parent_id() const { return string_field(parent_header, "msg_id"); }

std::string new_id() { return std::string(xeus::new_xguid().c_str()); }

json make_header(const std::string& msg_type, const std::string& session) {
    static const std::string user = [] {
        const char* u = std::getenv("USER");
        return std::string(u ? u : "ltest");
    }();
    return json{{"msg_id", new_id()},      {"session", session},
                {"username", user},        {"date", xeus::iso8601_now()},
                {"msg_type", msg_type},    {"version", protocol_version}};
}

message make_message(const std::string& msg_type, json content, const std::string& session,
                     const json& parent_header) {
    message m;
    m.header = make_header(msg_type, session);
    m.parent_header = parent_header;
    m.content = std::move(content);
    return m;
}

}  // namespace kernel_bridge
