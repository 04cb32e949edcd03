#include "kernel_bridge/zmq/kernel_client.hpp"

#include <algorithm>
#include <thread>

#include <zmq_addon.hpp>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/zmq/xeus_signer.hpp"
#include "kernel_bridge/zmq/zmq_frames.hpp"

namespace kernel_bridge {
using nlohmann::json;
using namespace std::chrono;

static zmq::socket_t connected(zmq::context_t& ctx, zmq::socket_type type, const std::string& endpoint,
                               const std::string& identity = {}) {
    zmq::socket_t s(ctx, type);
    s.set(zmq::sockopt::linger, 0);
    if (!identity.empty()) s.set(zmq::sockopt::routing_id, identity);
    s.connect(endpoint);
    return s;
}

kernel_client::kernel_client(zmq::context_t& ctx, const connection_info& info)
    : info_(info),
      wire_(make_xeus_signer(info.signature_scheme, info.key)),
      session_(new_id()),
      // shell and stdin share an identity, as jupyter_client does, so that the
      // kernel routes input_request to the client that sent the execute.
      shell_(connected(ctx, zmq::socket_type::dealer, info.endpoint(info.shell_port), session_)),
      iopub_(connected(ctx, zmq::socket_type::sub, info.endpoint(info.iopub_port))),
      stdin_(ctx, zmq::socket_type::dealer),
      control_(connected(ctx, zmq::socket_type::dealer, info.endpoint(info.control_port))),
      stdin_monitor_(ctx, zmq::socket_type::pair),
      heartbeat_(ctx, info.endpoint(info.hb_port)) {
    // Subscribe before the first request so that no output is lost.
    iopub_.set(zmq::sockopt::subscribe, "");
    // Monitor stdin before connecting it, so its handshake event cannot be missed.
    std::string monitor = "inproc://kernel-bridge-stdin-" + session_;
    if (zmq_socket_monitor(stdin_.handle(), monitor.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
        throw zmq::error_t();
    stdin_monitor_.connect(monitor);
    stdin_.set(zmq::sockopt::linger, 0);
    stdin_.set(zmq::sockopt::routing_id, session_);
    stdin_.connect(info.endpoint(info.stdin_port));
}

std::string kernel_client::send(zmq::socket_t& sock, const std::string& msg_type, json content, const json& parent) {
    message m = make_message(msg_type, std::move(content), session_, parent);
    std::string id = m.msg_id();
    zmq::multipart_t frames = to_multipart(wire_.serialize(m));
    frames.send(sock);
    return id;
}

std::string kernel_client::send_shell(const std::string& msg_type, json content) {
    return send(shell_, msg_type, std::move(content));
}

std::string kernel_client::send_control(const std::string& msg_type, json content) {
    return send(control_, msg_type, std::move(content));
}

std::string kernel_client::send_execute(const std::string& code, const execute_options& o) {
    return send_shell("execute_request", json{{"code", code},
                                              {"silent", o.silent},
                                              {"store_history", o.store_history},
                                              {"user_expressions", o.user_expressions},
                                              {"allow_stdin", o.allow_stdin},
                                              {"stop_on_error", o.stop_on_error}});
}

void kernel_client::send_input_reply(const std::string& value, const json& input_request_header) {
    send(stdin_, "input_reply", json{{"value", value}}, input_request_header);
}

std::optional<message> kernel_client::recv(zmq::socket_t& sock) {
    zmq::multipart_t frames;
    if (!frames.recv(sock, static_cast<int>(zmq::recv_flags::dontwait))) return std::nullopt;
    return wire_.deserialize(take_frames(frames));
}

std::optional<message> kernel_client::recv_shell() { return recv(shell_); }
std::optional<message> kernel_client::recv_iopub() { return recv(iopub_); }
std::optional<message> kernel_client::recv_stdin() { return recv(stdin_); }
std::optional<message> kernel_client::recv_control() { return recv(control_); }

// zmq::poll that treats a signal (EINTR) as "nothing yet": the caller's loop
// then checks its own conditions (a stop flag set by the signal handler).
static void poll_some(std::vector<zmq::pollitem_t>& items, std::size_t count, milliseconds timeout) {
    try {
        zmq::poll(items.data(), count, timeout);
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
    }
}

std::vector<zmq::pollitem_t> kernel_client::poll_items() {
    return {{shell_.handle(), 0, ZMQ_POLLIN, 0},
            {iopub_.handle(), 0, ZMQ_POLLIN, 0},
            {stdin_.handle(), 0, ZMQ_POLLIN, 0},
            {control_.handle(), 0, ZMQ_POLLIN, 0}};
}

message kernel_client::wait_for_ready(milliseconds timeout, const std::function<bool()>& alive) {
    auto deadline = steady_clock::now() + timeout;
    std::vector<std::string> sent;
    std::optional<message> reply;
    bool iopub_live = false;
    auto last_send = steady_clock::time_point{};
    while (!(reply && iopub_live && stdin_connected_)) {
        auto now = steady_clock::now();
        if (now >= deadline) throw timeout_error("kernel did not reply to kernel_info in time");
        if (alive && !alive()) throw kernel_died("kernel exited before it was ready");
        // Resend until both the reply and its iopub status are seen: a SUB socket
        // misses what was published before it joined.
        if (now - last_send > milliseconds(250)) {
            sent.push_back(send_shell("kernel_info_request", json::object()));
            last_send = now;
        }
        auto items = poll_items();
        poll_some(items, 2, milliseconds(50));
        while (auto m = recv_shell())
            if (m->msg_type() == "kernel_info_reply") reply = std::move(m);
        while (auto m = recv_iopub())
            if (std::find(sent.begin(), sent.end(), m->parent_id()) != sent.end()) iopub_live = true;
        zmq::multipart_t event;
        while (event.recv(stdin_monitor_, static_cast<int>(zmq::recv_flags::dontwait))) stdin_connected_ = true;
    }
    return *reply;
}

message kernel_client::execute(const std::string& code, const execute_options& opts, const execute_handlers& handlers,
                               milliseconds timeout, const std::function<bool()>& alive) {
    std::string id = send_execute(code, opts);
    auto deadline = steady_clock::now() + timeout;
    std::optional<message> reply;
    bool idle = false;
    while (!(reply && idle)) {
        if (steady_clock::now() >= deadline) throw timeout_error("execute request timed out");
        if (alive && !alive()) throw kernel_died("kernel died during execute");
        auto items = poll_items();
        poll_some(items, 3, milliseconds(100));
        while (auto m = recv_shell())
            if (m->parent_id() == id && m->msg_type() == "execute_reply") reply = std::move(m);
        while (auto m = recv_iopub()) {
            if (m->parent_id() != id) continue;
            if (m->msg_type() == "status" && m->content.value("execution_state", "") == "idle") idle = true;
            if (handlers.on_iopub) handlers.on_iopub(*m);
        }
        while (auto m = recv_stdin()) {
            if (m->msg_type() != "input_request") continue;
            std::string value = handlers.on_input ? handlers.on_input(*m) : std::string();
            send_input_reply(value, m->header);
        }
    }
    return *reply;
}

}  // namespace kernel_bridge
