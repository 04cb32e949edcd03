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
      socket_(server.ip, server.port, seconds(5), protocol::max_message_bytes),
      session_(kernel_bridge::new_id()) {}

json client_connection::send(const std::string& msg_type, json content, const json& parent) {
    kernel_bridge::message m = kernel_bridge::make_message(msg_type, std::move(content), session_, parent);
    socket_.send(wire_.serialize(m));
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
