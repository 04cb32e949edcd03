#pragma once
// A Jupyter message as a value: JSON parts and routing identities, no ZeroMQ.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kernel_bridge {

inline constexpr const char* protocol_version = "5.3";

struct message {
    std::vector<std::string> identities;  // ROUTER routing ids (or the iopub topic)
    nlohmann::json header = nlohmann::json::object();
    nlohmann::json parent_header = nlohmann::json::object();
    nlohmann::json metadata = nlohmann::json::object();
    nlohmann::json content = nlohmann::json::object();
    std::vector<std::string> buffers;

    std::string msg_type() const;   // "" when the header lacks it
    std::string msg_id() const;
    std::string parent_id() const;  // msg_id of parent_header, "" if none
};

// A protocol 5.3 header: msg_id, session, username, date, msg_type, version.
nlohmann::json make_header(const std::string& msg_type, const std::string& session);

message make_message(const std::string& msg_type, nlohmann::json content,
                     const std::string& session, const nlohmann::json& parent_header = nlohmann::json::object());

std::string new_id();

}  // namespace kernel_bridge
