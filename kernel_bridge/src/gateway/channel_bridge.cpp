#include "kernel_bridge/gateway/channel_bridge.hpp"

#include <deque>
#include <map>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <zmq_addon.hpp>

#include "kernel_bridge/message.hpp"
#include "kernel_bridge/wire.hpp"
#include "kernel_bridge/zmq/zmq_frames.hpp"

namespace kernel_bridge::gateway {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

struct channel_bridge::state {
    state(zmq::context_t& ctx, const connection_info& info)
        : codec(info.signature_scheme, info.key),
          shell(ctx, zmq::socket_type::router),
          control(ctx, zmq::socket_type::router),
          stdin_(ctx, zmq::socket_type::router),
          iopub(ctx, zmq::socket_type::pub),
          hb(ctx, zmq::socket_type::router),
          ws(ioc) {}

    asio::io_context ioc;
    kernel_bridge::wire codec;
    zmq::socket_t shell, control, stdin_, iopub, hb;
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer in;
    std::deque<std::string> out;  // to the gateway, in order
    bool writing = false;
    std::map<std::string, std::vector<std::string>> identities;  // channel -> the client's routing ids
};

static int bind_local(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, 0);
    s.bind("tcp://127.0.0.1:*");
    std::string at = s.get(zmq::sockopt::last_endpoint);
    return std::stoi(at.substr(at.rfind(':') + 1));
}

channel_bridge::channel_bridge(zmq::context_t& ctx, const endpoint& ep, const std::string& token,
                               const std::string& kernel_id, std::chrono::milliseconds timeout) {
    info_.ip = "127.0.0.1";
    info_.key = random_key();
    info_.kernel_name = "gateway:" + kernel_id;
    s_ = std::make_unique<state>(ctx, info_);
    info_.shell_port = bind_local(s_->shell);
    info_.control_port = bind_local(s_->control);
    info_.stdin_port = bind_local(s_->stdin_);
    info_.iopub_port = bind_local(s_->iopub);
    info_.hb_port = bind_local(s_->hb);

    // The handshake, bounded as rest_client's requests are.
    tcp::resolver resolver(s_->ioc);
    websocket::response_type answer;
    beast::error_code failed;
    const char* stage = "resolve";
    std::string target = ep.base + "/api/kernels/" + kernel_id + "/channels?session_id=" + new_id();
    auto& ws = s_->ws;
    beast::get_lowest_layer(ws).expires_after(timeout);
    ws.set_option(websocket::stream_base::decorator([&token](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "ltest");
        if (!token.empty()) req.set(beast::http::field::authorization, "token " + token);
    }));
    ws.read_message_max(64 * 1024 * 1024);
    resolver.async_resolve(ep.host, ep.port, [&](beast::error_code ec, tcp::resolver::results_type hosts) {
        if (ec) return void(failed = ec);
        stage = "connect to";
        beast::get_lowest_layer(ws).async_connect(hosts, [&](beast::error_code ec, const tcp::endpoint&) {
            if (ec) return void(failed = ec);
            stage = "open the kernel's channels at";
            ws.async_handshake(answer, ep.host + ":" + ep.port, target, [&](beast::error_code ec) { failed = ec; });
        });
    });
    s_->ioc.run();
    s_->ioc.restart();
    if (failed) {
        if (answer.result_int() >= 400)
            throw gateway_error(refusal_line(ep, "open kernel " + kernel_id + "'s channels",
                                             http_response{static_cast<int>(answer.result_int()), std::string(answer.reason()),
                                                           answer.body()}),
                                static_cast<int>(answer.result_int()));
        std::string why = failed == beast::error::timeout ? std::string("no answer in time") : failed.message();
        throw gateway_error("cannot " + std::string(stage) + " the gateway at " + ep.url() + ": " + why);
    }
    beast::get_lowest_layer(ws).expires_never();
    // A kernel's messages are small and many: a ping now and then keeps a
    // proxy between us from closing an idle connection, and finds a dead peer.
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = timeout;
    opt.idle_timeout = std::chrono::seconds(60);
    opt.keep_alive_pings = true;
    ws.set_option(opt);
    ws.text(true);
    thread_ = std::thread([this] { loop(); });
}

channel_bridge::~channel_bridge() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

std::string channel_bridge::why_closed() const {
    std::lock_guard<std::mutex> lock(why_mutex_);
    return why_;
}

void channel_bridge::close_with(const std::string& why) {
    {
        std::lock_guard<std::mutex> lock(why_mutex_);
        if (why_.empty()) why_ = why;
    }
    open_ = false;
}

void channel_bridge::loop() {
    state& s = *s_;
    // Everything below runs on this thread: the websocket's handlers run
    // inside ioc.poll(), the ZeroMQ sockets are read between.
    std::function<void()> read_next = [&] {
        s.ws.async_read(s.in, [&](beast::error_code ec, std::size_t) {
            if (ec) return close_with("the gateway closed the kernel's channels: " + ec.message());
            std::string text = beast::buffers_to_string(s.in.data());
            s.in.consume(s.in.size());
            if (!s.ws.got_text()) return read_next();  // binary frames carry buffers: none in ltest's messages
            try {
                json j = json::parse(text);
                std::string channel = j.value("channel", "");
                message m;
                m.header = j.value("header", json::object());
                m.parent_header = j.value("parent_header", json::object());
                m.metadata = j.value("metadata", json::object());
                m.content = j.value("content", json::object());
                zmq::socket_t* to = nullptr;
                if (channel == "iopub") {
                    to = &s.iopub;
                    m.identities = {"kernel." + m.msg_type()};
                    if (m.msg_type() == "status") {
                        std::string st = m.content.value("execution_state", "");
                        if (st == "restarting" || st == "dead" || st == "autorestarting")
                            close_with("the gateway says the kernel is " + st);
                    }
                } else if (channel == "shell" || channel == "control" || channel == "stdin") {
                    to = channel == "shell" ? &s.shell : channel == "control" ? &s.control : &s.stdin_;
                    auto ids = s.identities.find(channel);
                    // A client's stdin socket speaks only after the kernel
                    // asks: it has the shell socket's routing id (as
                    // jupyter_client's), which routes the input_request to it.
                    if (ids == s.identities.end() && channel == "stdin") ids = s.identities.find("shell");
                    if (ids == s.identities.end()) return read_next();  // no one asked on it yet
                    m.identities = ids->second;
                }
                if (to) to_multipart(s.codec.serialize(m)).send(*to, static_cast<int>(zmq::send_flags::dontwait));
            } catch (const std::exception&) {
                // malformed JSON or a full queue: dropped, as a kernel drops a bad frame
            }
            read_next();
        });
    };
    std::function<void()> write_next = [&] {
        if (s.writing || s.out.empty() || !open_) return;
        s.writing = true;
        s.ws.async_write(asio::buffer(s.out.front()), [&](beast::error_code ec, std::size_t) {
            s.writing = false;
            s.out.pop_front();
            if (ec) return close_with("cannot send to the gateway: " + ec.message());
            write_next();
        });
    };
    read_next();
    const int ws_fd = static_cast<int>(beast::get_lowest_layer(s.ws).socket().native_handle());
    struct named { zmq::socket_t* sock; const char* channel; };
    const named from_client[] = {{&s.shell, "shell"}, {&s.control, "control"}, {&s.stdin_, "stdin"}};
    while (!stop_) {
        std::vector<zmq::pollitem_t> items = {{s.shell.handle(), 0, ZMQ_POLLIN, 0},
                                              {s.control.handle(), 0, ZMQ_POLLIN, 0},
                                              {s.stdin_.handle(), 0, ZMQ_POLLIN, 0},
                                              {s.hb.handle(), 0, ZMQ_POLLIN, 0},
                                              {nullptr, ws_fd, static_cast<short>(ZMQ_POLLIN | (s.writing ? ZMQ_POLLOUT : 0)), 0}};
        try {
            zmq::poll(items, std::chrono::milliseconds(50));
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            close_with(std::string("the bridge's poll failed: ") + e.what());
            break;
        }
        s.ioc.poll();
        s.ioc.restart();
        for (std::size_t i = 0; i < 3; ++i) {
            for (int n = 0; n < 256; ++n) {
                zmq::multipart_t frames;
                if (!frames.recv(*from_client[i].sock, static_cast<int>(zmq::recv_flags::dontwait))) break;
                try {
                    message m = s.codec.deserialize(take_frames(frames));
                    s.identities[from_client[i].channel] = m.identities;
                    json j{{"header", m.header},       {"parent_header", m.parent_header},
                           {"metadata", m.metadata},   {"content", m.content},
                           {"buffers", json::array()}, {"channel", from_client[i].channel}};
                    s.out.push_back(j.dump(-1, ' ', false, json::error_handler_t::replace));
                } catch (const std::exception&) {
                    // wrongly signed or malformed: not from our client
                }
            }
        }
        for (int n = 0; n < 16; ++n) {
            // The heartbeat says whether the kernel behind the bridge is still
            // the one its client warmed: echoed while open, unanswered after.
            zmq::multipart_t ping;
            if (!ping.recv(s.hb, static_cast<int>(zmq::recv_flags::dontwait))) break;
            if (open_) ping.send(s.hb, static_cast<int>(zmq::send_flags::dontwait));
        }
        write_next();
    }
    beast::error_code ignored;
    if (open_) {
        s.ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
        s.ioc.run_for(std::chrono::milliseconds(500));
    }
    beast::get_lowest_layer(s.ws).socket().close(ignored);
}

}  // namespace kernel_bridge::gateway
