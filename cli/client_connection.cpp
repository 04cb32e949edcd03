#include "client_connection.hpp"

#include <kernel_bridge/errors.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

client_connection::client_connection(zmq::context_t& ctx, const server_info& server)
    : server_(server),
      wire_(server.signature_scheme, server.key),
      socket_(ctx, zmq::socket_type::dealer),
      session_(kernel_bridge::new_id()) {
    socket_.set(zmq::sockopt::linger, 200);
    socket_.connect(server.endpoint());
}

json client_connection::send(const std::string& msg_type, json content, const json& parent) {
    kernel_bridge::message m = kernel_bridge::make_message(msg_type, std::move(content), session_, parent);
    wire_.serialize(m).send(socket_);
    return m.header;
}

std::optional<kernel_bridge::message> client_connection::receive(milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
        if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) return std::nullopt;
        throw;
    }
    zmq::multipart_t frames;
    if (!frames.recv(socket_, static_cast<int>(zmq::recv_flags::dontwait))) return std::nullopt;
    try {
        return wire_.deserialize(frames);
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
