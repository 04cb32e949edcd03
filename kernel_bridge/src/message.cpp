#include "kernel_bridge/message.hpp"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

#include "kernel_bridge/random.hpp"

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

// A random (version 4) UUID, as jupyter_client's msg_ids are.
std::string new_id() {
    std::string h = random_hex(16);
    h[12] = '4';
    h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// ISO 8601 in UTC with microseconds, as the messaging spec wants for "date".
static std::string iso8601_now() {
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::tm utc{};
    ::gmtime_r(&tv.tv_sec, &utc);
    char buf[96];  // not strftime: it reads /etc/localtime, a cost in every client start
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long>(tv.tv_usec));
    return buf;
}

json make_header(const std::string& msg_type, const std::string& session) {
    static const std::string user = [] {
        const char* u = std::getenv("USER");
        return std::string(u ? u : "ltest");
    }();
    return json{{"msg_id", new_id()},      {"session", session},
                {"username", user},        {"date", iso8601_now()},
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
