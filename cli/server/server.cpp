#include "server.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <set>

#include <kernel_bridge/connection_file.hpp>
#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>
#include <kernel_bridge/zmq_frames.hpp>

#include "errors.hpp"
#include "idle_timer.hpp"
#include "learned_preloads.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "preload_watch.hpp"
#include "project_root.hpp"
#include "protocol.hpp"
#include "runtime_file.hpp"
#include "warm_kernel.hpp"

namespace ltest {
namespace kb = kernel_bridge;
using nlohmann::json;
using namespace std::chrono;

namespace {

std::atomic<bool> stop_requested{false};
void on_stop_signal(int) { stop_requested = true; }

struct run_job {
    std::string client;      // ROUTER identity
    std::string request_id;  // the run_request's msg_id (what keepalives and interrupts name)
    json request_header;     // parent of everything we send back
    protocol::run_spec spec;
    steady_clock::time_point last_heard;  // any message from this client about this run
};

struct active_run {
    run_job job;
    std::string execute_id;
    std::optional<kb::message> reply;
    bool idle = false;
    bool answered = false;      // the client has its run_reply (from ltest_result); the kernel may still be busy
    json input_request_header;  // the kernel's pending input_request, if any
    int lost_interrupts = 0;    // interrupts sent because the client went away
    steady_clock::time_point lost_at{};
};

// A run_reply for a run ltest itself could not carry out.
json failed_run(int code, const std::string& why) {
    return json{{"status", "error"}, {"exit_code", code}, {"error", why}};
}

// Remembers recent msg_ids so a captured request cannot be replayed.
class replay_guard {
public:
    bool first_time(const std::string& id) {
        if (!seen_.insert(id).second) return false;
        order_.push_back(id);
        if (order_.size() > 4096) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }

private:
    std::set<std::string> seen_;
    std::deque<std::string> order_;
};

class server {
public:
    server(const options& o, zmq::context_t& ctx)
        : opts_(o),
          info_{o.ip, o.port.value_or(default_port), kb::random_key(), "hmac-sha256", static_cast<int>(::getpid()), "", LTEST_VERSION,
                // issue 15: clients pick their project's server by these two
                project_root(std::filesystem::current_path()).string(), o.kernel},
          wire_(info_.signature_scheme, info_.key),
          router_(ctx, zmq::socket_type::router),
          kernel_(ctx, kernel_settings{o.kernel, o.existing, o.modules, "127.0.0.1", [] { return stop_requested.load(); },
                                      learned_preload_settings(o)}) {}

    int serve() {
        bind();
        kernel_.start();
        watch_.watch(kernel_.watched_files());
        info_.kernel_connection_file = kernel_.connection_file().string();
        write_runtime_file(info_);
        wrote_file_ = true;  // only then is the file ours to remove
        started_ = steady_clock::now();
        log::server().info("ready on {} (kernel connection file: {})", info_.endpoint(), info_.kernel_connection_file);
        while (!stop_requested) loop_once();
        log::server().info("stopping");
        shutdown();
        return 0;
    }

    ~server() {
        std::error_code ec;
        if (wrote_file_) std::filesystem::remove(runtime_file_path(info_.port), ec);
    }

private:
    void bind() {
        if (opts_.ip != "127.0.0.1" && opts_.ip != "localhost" && opts_.ip != "::1")
            log::server().warn("listening on {}: anyone who can reach that address and holds the key in {} can run code as you",
                               opts_.ip, runtime_file_path(info_.port).string());
        router_.set(zmq::sockopt::linger, 0);
        router_.set(zmq::sockopt::maxmsgsize, protocol::max_message_bytes);
        router_.set(zmq::sockopt::router_mandatory, true);  // a vanished client is an error, not a silent drop
        try {
            router_.bind(info_.endpoint());
        } catch (const zmq::error_t& e) {
            throw ltest_error(exit_code::startup, "cannot listen on " + info_.endpoint() + ": " + e.what() +
                                                      " (another server? try -p PORT)");
        }
    }

    void loop_once() {
        std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, watch_.fd(), ZMQ_POLLIN, 0}};
        auto kitems = kernel_.client().poll_items();
        items.insert(items.end(), kitems.begin(), kitems.end());
        try {
            zmq::poll(items.data(), items.size(), milliseconds(100));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
        }
        drain_kernel();
        drain_clients();
        if (!kernel_.alive()) on_kernel_death();
        if (auto file = watch_.changed(); file && !stale_) stale_ = file;
        drop_lost_clients();
        finish_if_done();
        start_next();
        if (idle_.expired(active_.has_value() || !queue_.empty())) {  // issue 15: --idle
            log::server().info("idle for {} s; stopping", *idle_.seconds());
            stop_requested = true;
        }
    }

    // --- clients -------------------------------------------------------------

    void drain_clients() {
        for (int i = 0; i < 64; ++i) {  // bounded, so the kernel side is not starved
            zmq::multipart_t frames;
            if (!frames.recv(router_, static_cast<int>(zmq::recv_flags::dontwait))) return;
            std::string peer = frames.empty() ? std::string() : frames.front().to_string();
            kb::message msg;
            try {
                msg = wire_.deserialize(kernel_bridge::take_frames(frames));
            } catch (const kb::bad_message& e) {
                // Unauthenticated peers learn nothing: dropped and logged.
                log::server().warn("dropped a message: {}", e.what());
                continue;
            }
            if (!replay_.first_time(msg.msg_id())) {
                log::server().warn("dropped a replayed message ({})", msg.msg_id());
                continue;
            }
            log::server().debug("<- {} from client", msg.msg_type());
            try {
                handle_client(msg);
            } catch (const std::exception& e) {
                // A well-signed but odd message (a field of the wrong type) never stops the server.
                log::server().warn("dropped a {} message: {}", msg.msg_type(), e.what());
            }
        }
    }

    void send_to(const std::string& client, const std::string& type, json content, const json& parent) {
        kb::message m = kb::make_message(type, std::move(content), session_, parent);
        m.identities = {client};
        try {
            kernel_bridge::to_multipart(wire_.serialize(m)).send(router_);
        } catch (const zmq::error_t& e) {
            log::server().debug("client gone ({}): {} not delivered", e.what(), type);
        }
    }

    void handle_client(const kb::message& msg) {
        const std::string& client = msg.identities.empty() ? std::string() : msg.identities.front();
        const std::string type = msg.msg_type();
        idle_.touch();  // issue 15: a client spoke
        if (type == protocol::run_request) {
            run_job job{client, msg.msg_id(), msg.header, {}, steady_clock::now()};
            try {
                job.spec = msg.content.get<protocol::run_spec>();
            } catch (const std::exception& e) {
                send_to(client, protocol::run_reply,
                        failed_run(exit_code::protocol, e.what()), msg.header);
                return;
            }
            queue_.push_back(std::move(job));
            // A run already answered only has the kernel finish its request: not worth a "waiting".
            std::size_t ahead = queue_.size() - 1 + (active_ && !active_->answered ? 1 : 0);
            send_to(client, protocol::run_status, json{{"state", ahead ? "queued" : "starting"}, {"ahead", ahead}},
                    msg.header);
        } else if (type == protocol::keepalive) {
            heard_from(client, msg.parent_id());
        } else if (type == protocol::input_reply) {
            if (active_ && active_->job.client == client && !active_->input_request_header.empty()) {
                auto value = msg.content.find("value");
                // Anything but a string is taken as end of input, so the test is not left waiting.
                std::string text = (value != msg.content.end() && value->is_string()) ? value->get<std::string>() : "\x04";
                kernel_.client().send_input_reply(text, active_->input_request_header);
                active_->input_request_header = json::object();
            }
        } else if (type == protocol::interrupt_request) {
            interrupt(client, msg.header);
        } else if (type == protocol::status_request) {
            send_to(client, protocol::status_reply, status(), msg.header);
        } else if (type == protocol::shutdown_request) {
            send_to(client, protocol::shutdown_reply, json{{"status", "ok"}}, msg.header);
            stop_requested = true;
        } else {
            send_to(client, protocol::error_reply,
                    json{{"status", "error"}, {"error", "unknown message type '" + type + "'"}}, msg.header);
        }
    }

    void heard_from(const std::string& client, const std::string& request_id) {
        auto now = steady_clock::now();
        if (active_ && active_->job.client == client && active_->job.request_id == request_id)
            active_->job.last_heard = now;
        for (auto& job : queue_)
            if (job.client == client && job.request_id == request_id) job.last_heard = now;
    }

    // The loop was blocked (a kernel restart): keepalives waited in the socket.
    void forgive_silence() {
        auto now = steady_clock::now();
        for (auto& job : queue_) job.last_heard = now;
        if (active_) active_->job.last_heard = now;
    }

    // A client that stopped sending keepalives was killed: its queued runs are
    // dropped and its running tests are interrupted, then killed.
    void drop_lost_clients() {
        auto now = steady_clock::now();
        auto lost = [&](const run_job& j) { return now - j.last_heard > milliseconds(protocol::client_lost_after_ms); };
        for (auto it = queue_.begin(); it != queue_.end();)
            it = lost(*it) ? queue_.erase(it) : std::next(it);
        if (!active_ || active_->answered || !lost(active_->job)) return;  // an answered client may leave
        if (active_->lost_interrupts == 0 || (active_->lost_interrupts == 1 && now - active_->lost_at > seconds(2))) {
            if (active_->lost_interrupts == 0) log::server().warn("client of the running tests is gone; stopping them");
            kernel_.interrupt();
            ++active_->lost_interrupts;
            active_->lost_at = now;
        }
    }

    void interrupt(const std::string& client, const json& header) {
        if (active_ && active_->job.client == client) {
            if (!active_->answered) kernel_.interrupt();
            return;
        }
        for (auto it = queue_.begin(); it != queue_.end(); ++it)
            if (it->client == client) {
                send_to(client, protocol::run_reply,
                        json{{"status", "ok"}, {"exit_code", 2}, {"error", "interrupted while waiting for the kernel"}},
                        it->request_header);
                queue_.erase(it);
                return;
            }
    }

    json status() {
        json s = kernel_.status();
        s["server_pid"] = ::getpid();
        s["address"] = info_.endpoint();
        s["version"] = LTEST_VERSION;
        s["runs"] = runs_;
        s["queued"] = queue_.size();
        s["run_in_flight"] = active_ && !active_->answered;  // answered: only the kernel finishing up
        s["fork_safe"] = fork_unsafe_.empty();
        s["fork_unsafe"] = fork_unsafe_;  // as of the last run
        s["server_uptime"] = duration<double>(steady_clock::now() - started_).count();
        s["project_root"] = info_.project_root;  // issue 15
        s["idle_timeout"] = idle_.seconds() ? json(*idle_.seconds()) : json(nullptr);
        return s;
    }

    // --- the kernel ----------------------------------------------------------

    void drain_kernel() {
        auto& kc = kernel_.client();
        auto receive = [&](auto recv_fn, auto handle) {
            for (int i = 0; i < 256; ++i) {
                try {
                    auto m = (kc.*recv_fn)();
                    if (!m) return;
                    handle(*m);
                } catch (const kb::bad_message& e) {
                    log::kernel().warn("dropped a message from the kernel: {}", e.what());
                } catch (const nlohmann::json::exception& e) {
                    log::kernel().warn("dropped an odd message from the kernel: {}", e.what());
                }
            }
        };
        receive(&kb::kernel_client::recv_iopub, [&](const kb::message& m) { on_iopub(m); });
        receive(&kb::kernel_client::recv_shell, [&](const kb::message& m) {
            if (active_ && m.parent_id() == active_->execute_id) active_->reply = m;
        });
        receive(&kb::kernel_client::recv_stdin, [&](const kb::message& m) {
            if (!active_ || m.msg_type() != "input_request") return;
            active_->input_request_header = m.header;
            send_to(active_->job.client, protocol::input_request, m.content, active_->job.request_header);
        });
        receive(&kb::kernel_client::recv_control, [](const kb::message&) {});
    }

    void on_iopub(const kb::message& m) {
        if (m.msg_type() == "status" && (!active_ || m.parent_id() != active_->execute_id)) {
            // Someone else's request (a notebook cell in a shared kernel).
            std::string state = m.content.value("execution_state", "");
            if (state == "busy") busy_with_others_.insert(m.parent_id());
            if (state == "idle") busy_with_others_.erase(m.parent_id());
        }
        if (!active_ || m.parent_id() != active_->execute_id) return;
        const std::string type = m.msg_type();
        if (type == "stream") {
            send_to(active_->job.client, protocol::stream,
                    json{{"name", m.content.value("name", "stdout")}, {"text", m.content.value("text", "")}},
                    active_->job.request_header);
        } else if (type == "ltest_result" && !active_->answered) {
            // The runtime's early word: all output is already out (same socket, in order).
            answer(run_reply_content(m.content));
        } else if (type == "status" && m.content.value("execution_state", "") == "idle") {
            active_->idle = true;
        }
    }

    // A preloaded module changed on disk: restart the kernel before the next
    // run so that it never runs stale code, and tell that run's client why.
    // A fresh kernel, warmed again; what depends on it follows.
    void restart_kernel() {
        kernel_.restart();
        stale_.reset();
        watch_.watch(kernel_.watched_files());
        info_.kernel_connection_file = kernel_.connection_file().string();
        write_runtime_file(info_);
        forgive_silence();
    }

    void rewarm_for(const run_job& job) {
        std::string file = *stale_;
        stale_.reset();
        log::kernel().info("{} changed on disk; restarting the kernel", file);
        send_to(job.client, protocol::run_status, json{{"state", "restarting"}, {"reason", file + " changed on disk"}},
                job.request_header);
        auto t0 = steady_clock::now();
        restart_kernel();
        double secs = duration<double>(steady_clock::now() - t0).count();
        log::kernel().info("restarted and preloaded in {:.2f} s", secs);
        send_to(job.client, protocol::run_status, json{{"state", "restarted"}, {"seconds", secs}}, job.request_header);
    }

    void start_next() {
        if (active_ || queue_.empty()) return;
        if (stale_) rewarm_for(queue_.front());
        active_run run;
        run.job = std::move(queue_.front());
        queue_.pop_front();
        kb::execute_options opts;
        opts.allow_stdin = true;
        opts.user_expressions = runtime_result_expression();
        run.execute_id = kernel_.client().send_execute(runtime_call_code("serve", json(run.job.spec)), opts);
        if (!busy_with_others_.empty())
            send_to(run.job.client, protocol::run_status, json{{"state", "kernel_busy"}}, run.job.request_header);
        log::server().debug("run started: {}", json(run.job.spec.args).dump());
        active_ = std::move(run);
    }

    // The client's run_reply from the runtime's result object.
    json run_reply_content(const json& result) {
        json out = {{"status", "ok"}, {"exit_code", result.value("exit_code", exit_code::internal)},
                    {"duration", result.value("duration", 0.0)},
                    {"prestarted", result.value("spare", false)},  // ran in the spare forked ahead of time
                    {"practised", result.value("practised", false)}};  // ... which had warmed up (a practice run)
        fork_unsafe_ = result.value("fork_unsafe", json::array());
        if (!fork_unsafe_.empty()) out["fork_unsafe"] = fork_unsafe_;
        return out;
    }

    void answer(const json& out) {
        ++runs_;
        active_->answered = true;
        send_to(active_->job.client, protocol::run_reply, out, active_->job.request_header);
    }

    // The kernel is free again once the execute reply and the idle status are in.
    void finish_if_done() {
        if (!active_ || !active_->reply || !active_->idle) return;
        const json& c = active_->reply->content;
        if (!active_->answered) {
            if (c.value("status", "") == "ok") {
                answer(run_reply_content(runtime_result(c).value_or(json::object())));
            } else {
                std::string why = c.value("ename", std::string("error")) + ": " + c.value("evalue", std::string());
                log::kernel().warn("the runtime failed: {}", why);
                answer(failed_run(exit_code::internal, "ltest's runtime failed in the kernel: " + why));
            }
        }
        active_.reset();
    }

    void on_kernel_death() {
        std::string why = kernel_.death_reason();
        log::kernel().warn("{}; restarting it", why);
        if (active_) {
            if (!active_->answered)
                send_to(active_->job.client, protocol::run_reply,
                        failed_run(exit_code::kernel_died, why + " during the run; ltest is restarting it, run again"),
                        active_->job.request_header);
            active_.reset();
        }
        try {
            restart_kernel();
        } catch (const ltest_error& e) {
            log::kernel().error("restart failed: {}", e.what());
            for (const auto& job : queue_)
                send_to(job.client, protocol::run_reply,
                        failed_run(exit_code::kernel_died, e.what()),
                        job.request_header);
            queue_.clear();
            throw;
        }
    }

    void shutdown() {
        if (active_) kernel_.interrupt();
        for (const auto& job : queue_)
            send_to(job.client, protocol::run_reply,
                    failed_run(exit_code::no_server, "the server is stopping"),
                    job.request_header);
        kernel_.stop();
    }

    const options& opts_;
    server_info info_;
    kb::wire wire_;
    zmq::socket_t router_;
    warm_kernel kernel_;
    preload_watch watch_;
    idle_timer idle_{opts_.idle};  // issue 15
    std::optional<std::string> stale_;  // a preloaded module's file that changed
    std::string session_ = kb::new_id();
    replay_guard replay_;
    std::deque<run_job> queue_;
    std::optional<active_run> active_;
    int runs_ = 0;
    std::set<std::string> busy_with_others_;  // msg_ids of other clients' requests in progress
    json fork_unsafe_ = json::array();
    bool wrote_file_ = false;
    steady_clock::time_point started_ = steady_clock::now();
};

}  // namespace

int run_server(const options& opts) {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);  // the terminal closed: stop as cleanly as on Ctrl-C
    ::signal(SIGPIPE, SIG_IGN);
    zmq::context_t ctx;
    server s(opts, ctx);
    return s.serve();
}

}  // namespace ltest
