#pragma once
// A Jupyter client: shell, iopub, stdin and control channels plus heartbeat,
// with non-blocking receives for an event loop and a blocking execute() helper.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "kernel_bridge/connection_file.hpp"
#include "kernel_bridge/zmq/heartbeat.hpp"
#include "kernel_bridge/message.hpp"
#include "kernel_bridge/wire.hpp"

namespace kernel_bridge {

struct execute_options {
    bool silent = true;
    bool store_history = false;
    bool allow_stdin = false;
    bool stop_on_error = false;
    nlohmann::json user_expressions = nlohmann::json::object();
};

struct execute_handlers {
    // Every iopub message whose parent is this request (stream, error, status, ...).
    std::function<void(const message&)> on_iopub;
    // An input_request; returns the value to send back.
    std::function<std::string(const message&)> on_input;
};

class kernel_client {
public:
    kernel_client(zmq::context_t& ctx, const connection_info& info);
    kernel_client(const kernel_client&) = delete;
    kernel_client& operator=(const kernel_client&) = delete;

    const std::string& session() const { return session_; }

    // Send a request; returns its msg_id.
    std::string send_shell(const std::string& msg_type, nlohmann::json content);
    std::string send_control(const std::string& msg_type, nlohmann::json content);
    std::string send_execute(const std::string& code, const execute_options& opts);
    void send_input_reply(const std::string& value, const nlohmann::json& input_request_header);

    // Non-blocking receives: nullopt when nothing is waiting. Throw bad_message
    // for a frame set that is malformed or wrongly signed (already consumed).
    std::optional<message> recv_shell();
    std::optional<message> recv_iopub();
    std::optional<message> recv_stdin();
    std::optional<message> recv_control();

    // Sockets for zmq::poll, in the order shell, iopub, stdin, control.
    std::vector<zmq::pollitem_t> poll_items();

    heartbeat& beat() { return heartbeat_; }

    // Resends kernel_info until a reply arrives and iopub is seen live.
    // `alive` is consulted between tries: false throws kernel_died.
    message wait_for_ready(std::chrono::milliseconds timeout, const std::function<bool()>& alive = {});

    // Sends one execute request and blocks until its reply and its iopub idle.
    // Throws timeout_error, or kernel_died when `alive` turns false.
    message execute(const std::string& code, const execute_options& opts, const execute_handlers& handlers,
                    std::chrono::milliseconds timeout, const std::function<bool()>& alive = {});

private:
    std::string send(zmq::socket_t& sock, const std::string& msg_type, nlohmann::json content,
                     const nlohmann::json& parent = nlohmann::json::object());
    std::optional<message> recv(zmq::socket_t& sock);

    connection_info info_;
    wire wire_;
    std::string session_;
    zmq::socket_t shell_, iopub_, stdin_, control_;
    // Reports when stdin_ has connected: the kernel drops an input_request sent
    // to a client whose stdin socket is not connected yet.
    zmq::socket_t stdin_monitor_;
    bool stdin_connected_ = false;
    heartbeat heartbeat_;
};

}  // namespace kernel_bridge
