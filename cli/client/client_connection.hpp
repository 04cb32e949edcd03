#pragma once
// The client's side of the ltest protocol: one ZMTP connection to the
// server's ROUTER (zmtp_dealer, no libzmq), signing with the key from the
// server's runtime file.
#include <chrono>
#include <optional>
#include <string>

#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>

#include "runtime_file.hpp"
#include "zmtp_dealer.hpp"

namespace ltest {

class client_connection {
public:
    // Connects; throws ltest_error(no_server) when nothing listens there.
    explicit client_connection(const server_info& server);

    // Sends a request; returns its header (the parent of every answer).
    nlohmann::json send(const std::string& msg_type, nlohmann::json content,
                        const nlohmann::json& parent = nlohmann::json::object());
    // Waits up to `timeout` for a message; nullopt on timeout. Throws
    // ltest_error(protocol) for an answer that is not correctly signed.
    std::optional<kernel_bridge::message> receive(std::chrono::milliseconds timeout);
    int fd() const { return socket_.fd(); }
    // One request, one reply of reply_type, or ltest_error(no_server) after the timeout.
    kernel_bridge::message request(const std::string& msg_type, const std::string& reply_type,
                                   std::chrono::milliseconds timeout);
    const server_info& server() const { return server_; }

private:
    server_info server_;
    kernel_bridge::wire wire_;
    zmtp_dealer socket_;
    std::string session_;
};

}  // namespace ltest
