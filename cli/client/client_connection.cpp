#include "client_connection.hpp"

#include <kernel_bridge/errors.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

client_connection::client_connection(const server_info& server)
    : server_(server),
      wire_(server.signature_scheme, server.key),
      socket_(server.ip, server.port, seconds(5), protocol::max_message_bytes,
              protocol::connect_password(server.signature_scheme, server.key)),
      session_(kernel_bridge::new_id()) {}

json client_connection::send(const std::string& msg_type, json content, const json& parent) {
    kernel_bridge::message m = kernel_bridge::make_message(msg_type, std::move(content), session_, parent);
    auto frames = wire_.serialize(m);
    // Checked here: the server's ZeroMQ would close the connection unread,
    // which reads as "server went away".
    std::size_t size = 0;
    for (const auto& f : frames) size += f.size();
    if (size > static_cast<std::size_t>(protocol::max_message_bytes))
        throw ltest_error(exit_code::usage, "the " + msg_type + " is " + std::to_string(size >> 20) +
                                                " MiB, over the server's limit of " +
                                                std::to_string(protocol::max_message_bytes >> 20) +
                                                " MiB (a huge environment variable or argument list?)");
    socket_.send(frames);
    return m.header;
}

std::optional<kernel_bridge::message> client_connection::receive(milliseconds timeout) {
    auto frames = socket_.receive(timeout);
    if (!frames) return std::nullopt;
    try {
        return wire_.deserialize(std::move(*frames));
    } catch (const kernel_bridge::bad_message& e) {
        throw ltest_error(exit_code::protocol, std::string("bad message from the server: ") + e.what());
    }
}

kernel_bridge::message client_connection::request(const std::string& msg_type, const std::string& reply_type,
                                                  milliseconds timeout) {
    json header = send(msg_type, json::object());
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
        auto m = receive(duration_cast<milliseconds>(deadline - steady_clock::now()));
        if (m && m->parent_id() == header.value("msg_id", "") && m->msg_type() == reply_type) return *m;
    }
    throw ltest_error(exit_code::no_server, "the ltest server at " + server_.endpoint() + " (pid " +
                                                std::to_string(server_.pid) + ") does not answer");
}

}  // namespace ltest
