#pragma once
// The client's side of the ltest protocol: a DEALER socket to the server,
// signing with the key from the server's runtime file.
#include <chrono>
#include <optional>
#include <string>

#include <zmq.hpp>

#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>

#include "server_file.hpp"

namespace ltest {

class client_connection {
public:
    client_connection(zmq::context_t& ctx, const server_info& server);

    // Sends a request; returns its header (the parent of every answer).
    nlohmann::json send(const std::string& msg_type, nlohmann::json content,
                        const nlohmann::json& parent = nlohmann::json::object());
    // Waits up to `timeout` for a message; nullopt on timeout. Throws
    // ltest_error(protocol) for an answer that is not correctly signed.
    std::optional<kernel_bridge::message> receive(std::chrono::milliseconds timeout);
    zmq::socket_t& socket() { return socket_; }
    // One request, one reply of reply_type, or ltest_error(no_server) after the timeout.
    kernel_bridge::message request(const std::string& msg_type, const std::string& reply_type,
                                   std::chrono::milliseconds timeout);
    const server_info& server() const { return server_; }

private:
    server_info server_;
    kernel_bridge::wire wire_;
    zmq::socket_t socket_;
    std::string session_;
};

}  // namespace ltest
