#include "server.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <set>

#include <kernel_bridge/connection_file.hpp>
#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/jupyter_paths.hpp>
#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>
#include <kernel_bridge/zmq_frames.hpp>

#include "client_liveness.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "handover_socket.hpp"
#include "log.hpp"
#include "preload_watch.hpp"
#include "protocol.hpp"
#include "replay_guard.hpp"
#include "run.hpp"
#include "run_output.hpp"
#include "runtime_file.hpp"
#include "warm_kernel.hpp"

namespace ltest {
namespace kb = kernel_bridge;
using nlohmann::json;
using namespace std::chrono;

namespace {

std::atomic<bool> stop_requested{false};
void on_stop_signal(int) { stop_requested = true; }

// A run_reply for a run ltest itself could not carry out.
json failed_run(int code, const std::string& why) {
    return json{{"status", "error"}, {"exit_code", code}, {"error", why}};
}

// After its exit code, how long a run's output may stay open (held by
// processes the tests left behind) before its process group is killed.
constexpr auto leftover_grace = seconds(1);
// A lost client's tests get SIGINT, then this long before SIGKILL.
constexpr auto lost_kill_after = seconds(2);

class server {
public:
    server(const options& o, zmq::context_t& ctx)
        : opts_(o),
          info_{o.ip, o.port.value_or(default_port), kb::random_key(), "hmac-sha256", static_cast<int>(::getpid()), "", LTEST_VERSION},
          wire_(info_.signature_scheme, info_.key),
          router_(ctx, zmq::socket_type::router),
          handover_(kb::jupyter_runtime_dir() / ("ltest-" + std::to_string(info_.port) + ".sock")),
          kernel_(ctx, kernel_settings{o.kernel, o.existing, o.modules, "127.0.0.1", [] { return stop_requested.load(); },
                                       handover_.path().string()}) {
        handlers_ = {{protocol::run_request, &server::on_run_request},
                     {protocol::keepalive, &server::on_keepalive},
                     {protocol::input_reply, &server::on_input_reply},
                     {protocol::interrupt_request, &server::on_interrupt_request},
                     {protocol::status_request, &server::on_status_request},
                     {protocol::shutdown_request, &server::on_shutdown_request}};
    }

    int serve() {
        bind();
        kernel_.start();
        handover_.accept_kernel();
        watch_.watch(kernel_.watched_files());
        info_.kernel_connection_file = kernel_.connection_file().string();
        write_runtime_file(info_);
        wrote_file_ = true;  // only then is the file ours to remove
        started_ = steady_clock::now();
        log::server().info("ready on {} (kernel connection file: {}{})", info_.endpoint(), info_.kernel_connection_file,
                           kernel_.hands_over() ? "" : "; runs relayed through the kernel, one at a time");
        while (!stop_requested) {
            try {
                loop_once();
            } catch (const nlohmann::json::exception& e) {
                // Something odd from the kernel or a client: never a reason to stop serving.
                log::server().error("internal error, serving on: {}", e.what());
            }
        }
        log::server().info("stopping");
        shutdown();
        return 0;
    }

    ~server() {
        std::error_code ec;
        if (wrote_file_) std::filesystem::remove(runtime_file_path(info_.port), ec);
    }

private:
    using handler = void (server::*)(const kb::message&);

    void bind() {
        if (opts_.ip != "127.0.0.1" && opts_.ip != "localhost" && opts_.ip != "::1")
            log::server().warn("listening on {}: anyone who can reach that address and holds the key in {} can run code as you",
                               opts_.ip, runtime_file_path(info_.port).string());
        router_.set(zmq::sockopt::linger, 0);
        router_.set(zmq::sockopt::maxmsgsize, protocol::max_message_bytes);
        router_.set(zmq::sockopt::router_mandatory, true);  // a vanished client is an error, not a silent drop
        // Few messages queued per client: output beyond that waits in its run
        // (bounded), and the test process's writes then block.
        router_.set(zmq::sockopt::sndhwm, 32);
        try {
            router_.bind(info_.endpoint());
        } catch (const zmq::error_t& e) {
            throw ltest_error(exit_code::startup, "cannot listen on " + info_.endpoint() + ": " + e.what() +
                                                      " (another server? try -p PORT)");
        }
    }

    void loop_once() {
        std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0},
                                           {nullptr, watch_.fd(), ZMQ_POLLIN, 0},
                                           {nullptr, handover_.listen_fd(), ZMQ_POLLIN, 0}};
        if (handover_.connected())
            items.push_back({nullptr, handover_.kernel_fd(),
                             static_cast<short>(ZMQ_POLLIN | (handover_.wants_write() ? ZMQ_POLLOUT : 0)), 0});
        for (auto& r : runs_) add_poll_items(r, items);
        auto kitems = kernel_.client().poll_items();
        items.insert(items.end(), kitems.begin(), kitems.end());
        bool waiting_to_send = false;
        for (auto& r : runs_) waiting_to_send |= !r.outbox.empty();
        try {
            zmq::poll(items.data(), items.size(), milliseconds(waiting_to_send ? 5 : 100));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
        }
        if (items[2].revents & ZMQ_POLLIN) handover_.accept_kernel();
        if (handover_.connected()) {
            handover_.flush();
            for (const auto& r : handover_.read_reports()) reaped_[r.pid] = r.exit_code;
        }
        for (auto& r : runs_) pump(r);
        drain_kernel();
        drain_clients();
        if (!kernel_.alive()) on_kernel_death();
        if (auto file = watch_.changed(); file && !stale_) stale_ = file;
        drop_lost_clients();
        for (auto& r : runs_) finish_if_done(r);
        start_runs();
        deliver();
    }

    // --- clients -------------------------------------------------------------

    void drain_clients() {
        for (int i = 0; i < 64; ++i) {  // bounded, so the kernel side is not starved
            zmq::multipart_t frames;
            if (!frames.recv(router_, static_cast<int>(zmq::recv_flags::dontwait))) return;
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
                auto h = handlers_.find(msg.msg_type());
                if (h != handlers_.end())
                    (this->*(h->second))(msg);
                else
                    send_to(client_of(msg), protocol::error_reply,
                            json{{"status", "error"}, {"error", "unknown message type '" + msg.msg_type() + "'"}},
                            msg.header);
            } catch (const std::exception& e) {
                // A well-signed but odd message (a field of the wrong type) never stops the server.
                log::server().warn("dropped a {} message: {}", msg.msg_type(), e.what());
            }
        }
    }

    static std::string client_of(const kb::message& msg) {
        return msg.identities.empty() ? std::string() : msg.identities.front();
    }

    std::vector<std::string> frames_for(const std::string& client, const std::string& type, json content,
                                        const json& parent) {
        kb::message m = kb::make_message(type, std::move(content), session_, parent);
        m.identities = {client};
        return wire_.serialize(m);
    }

    // Sends now or never: a client that is not reading loses this answer, not the server its loop.
    void send_to(const std::string& client, const std::string& type, json content, const json& parent) {
        if (try_send(frames_for(client, type, std::move(content), parent)) != send_result::sent)
            log::server().debug("{} not delivered: the client is gone or not reading", type);
    }

    void queue_for(run& r, const std::string& type, json content) {
        r.queue(frames_for(r.client, type, std::move(content), r.request_header));
    }

    enum class send_result { sent, full, gone };

    send_result try_send(const std::vector<std::string>& frames) {
        for (std::size_t i = 0; i < frames.size(); ++i) {
            auto flags = zmq::send_flags::dontwait | (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
            try {
                if (!router_.send(zmq::buffer(frames[i]), flags)) return send_result::full;  // only the first frame can
            } catch (const zmq::error_t& e) {
                return send_result::gone;  // EHOSTUNREACH: no such client
            }
        }
        return send_result::sent;
    }

    // Each run's messages go out in order, as fast as its client reads them.
    void deliver() {
        for (auto it = runs_.begin(); it != runs_.end();) {
            run& r = *it;
            while (!r.outbox.empty()) {
                auto result = try_send(r.outbox.front());
                if (result == send_result::full) break;
                for (const auto& f : r.outbox.front()) r.outbox_bytes -= f.size();
                r.outbox.pop_front();
                if (result == send_result::gone) {
                    r.outbox.clear();
                    r.outbox_bytes = 0;
                }
            }
            bool done = r.phase() == run_phase::answered && r.outbox.empty();
            it = done ? runs_.erase(it) : std::next(it);
        }
    }

    run* find_run(const std::string& client, const std::string& run_id) {
        for (auto& r : runs_)
            if (r.client == client && (run_id.empty() || r.id == run_id) && r.phase() != run_phase::answered) return &r;
        return nullptr;
    }

    void on_run_request(const kb::message& msg) {
        run r;
        r.id = msg.msg_id();
        r.client = client_of(msg);
        r.request_header = msg.header;
        try {
            r.spec = msg.content.get<protocol::run_spec>();
        } catch (const std::exception& e) {
            send_to(r.client, protocol::run_reply, failed_run(exit_code::protocol, e.what()), msg.header);
            return;
        }
        r.client_here = r.spec.client_pid > 0 && !r.spec.client_host.empty() && r.spec.client_host == this_host_id();
        std::size_t ahead = 0;
        if (!kernel_.hands_over())
            for (const auto& other : runs_) ahead += other.phase() == run_phase::queued || other.phase() == run_phase::relaying;
        queue_for(r, protocol::run_status, json{{"state", ahead ? "queued" : "starting"}, {"ahead", ahead}});
        runs_.push_back(std::move(r));
    }

    void on_keepalive(const kb::message& msg) {
        for (auto& r : runs_)
            if (r.client == client_of(msg) && r.id == msg.parent_id()) r.last_heard = steady_clock::now();
    }

    void on_input_reply(const kb::message& msg) {
        run* r = find_run(client_of(msg), msg.parent_id());
        if (!r) return;
        auto value = msg.content.find("value");
        // Anything but a string is taken as end of input, so the test is not left waiting.
        std::string text = (value != msg.content.end() && value->is_string()) ? value->get<std::string>() : "\x04";
        if (r->phase() == run_phase::relaying) {
            if (r->input_request_header.empty()) return;
            kernel_.client().send_input_reply(text, r->input_request_header);
            r->input_request_header = json::object();
        } else {
            write_input(*r, text);
        }
    }

    void on_interrupt_request(const kb::message& msg) {
        run* r = find_run(client_of(msg), msg.parent_id());
        if (!r) r = find_run(client_of(msg), "");
        if (!r) return;
        if (r->phase() == run_phase::queued) {
            r->set_phase(run_phase::answered);
            queue_for(*r, protocol::run_reply,
                      json{{"status", "ok"}, {"exit_code", 2}, {"error", "interrupted while waiting for the kernel"}});
            return;
        }
        ++r->interrupts;
        signal_run(*r);
    }

    void on_status_request(const kb::message& msg) { send_to(client_of(msg), protocol::status_reply, status(), msg.header); }

    void on_shutdown_request(const kb::message& msg) {
        send_to(client_of(msg), protocol::shutdown_reply, json{{"status", "ok"}}, msg.header);
        stop_requested = true;
    }

    // The first interrupt is Ctrl-C in a terminal (KeyboardInterrupt), the next kills.
    void signal_run(run& r) {
        if (r.phase() == run_phase::relaying) {
            kernel_.interrupt();
            return;
        }
        while (r.pid > 0 && r.interrupts_sent < r.interrupts) {
            ::kill(-r.pid, r.interrupts_sent == 0 ? SIGINT : SIGKILL);
            ++r.interrupts_sent;
        }
    }

    // A client whose process ended (on this host), or that went silent (on
    // another): its queued runs are dropped, its running tests interrupted,
    // then killed. A stopped client (Ctrl-Z) is neither: its run waits.
    void drop_lost_clients() {
        auto now = steady_clock::now();
        if (now - last_liveness_check_ < milliseconds(250)) return;
        last_liveness_check_ = now;
        for (auto it = runs_.begin(); it != runs_.end();) {
            run& r = *it;
            bool lost = r.phase() != run_phase::answered &&
                        (r.client_here ? state_of(r.spec.client_pid) == process_state::gone
                                       : now - r.last_heard > milliseconds(protocol::client_lost_after_ms));
            if (lost && r.phase() == run_phase::queued) {
                it = runs_.erase(it);
                continue;
            }
            if (lost && (r.lost_interrupts == 0 || (r.lost_interrupts == 1 && now - r.lost_at > lost_kill_after))) {
                if (r.lost_interrupts == 0) log::server().warn("the client of run {} is gone; stopping its tests", r.id.substr(0, 8));
                ++r.lost_interrupts;
                r.lost_at = now;
                r.interrupts = std::max(r.interrupts, r.lost_interrupts);
                signal_run(r);
            }
            ++it;
        }
    }

    json status() {
        json s = kernel_.status();
        s["server_pid"] = ::getpid();
        s["address"] = info_.endpoint();
        s["version"] = LTEST_VERSION;
        s["runs"] = runs_served_;
        json in_flight = json::array();
        std::size_t queued = 0;
        auto now = steady_clock::now();
        for (const auto& r : runs_) {
            if (r.phase() == run_phase::answered) continue;
            queued += r.phase() == run_phase::queued;
            in_flight.push_back({{"pid", r.pid}, {"cwd", r.spec.cwd}, {"args", r.spec.args}, {"phase", phase_name(r.phase())},
                                 {"age", duration<double>(now - r.started).count()}});
        }
        s["queued"] = queued;
        s["in_flight"] = in_flight;
        s["run_in_flight"] = in_flight.size() > queued;
        s["hand_over"] = kernel_.hands_over();
        s["fork_safe"] = fork_unsafe_.empty();
        s["fork_unsafe"] = fork_unsafe_;  // as of the last run
        s["server_uptime"] = duration<double>(steady_clock::now() - started_).count();
        return s;
    }

    // --- a handed-over run's fds ----------------------------------------------

    void add_poll_items(run& r, std::vector<zmq::pollitem_t>& items) {
        if (r.may_read_output())
            for (int fd : {r.pipes.out, r.pipes.err})
                if (fd >= 0) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
        if (r.pipes.ctl >= 0) items.push_back({nullptr, r.pipes.ctl, ZMQ_POLLIN, 0});
    }

    void pump(run& r) {
        if (r.phase() != run_phase::handing_over && r.phase() != run_phase::running) return;
        pump_output(r, 8);
        for (const auto& line : read_control(r)) {
            if (line == "I") {
                pump_output(r, 1024);  // the prompt first, then the question
                queue_for(r, protocol::input_request, json{{"prompt", ""}, {"password", false}});
            } else if (line.rfind("X ", 0) == 0) {
                try {
                    r.exit_code = std::stoi(line.substr(2));
                    r.exit_at = steady_clock::now();
                } catch (const std::exception&) {
                }
            }
        }
    }

    // Up to `reads` reads per stream while the client keeps up.
    void pump_output(run& r, int reads) {
        for (int i = 0; i < reads && r.may_read_output(); ++i) {
            bool got = false;
            got |= read_stream(r, r.pipes.out, r.out_text, "stdout");
            got |= read_stream(r, r.pipes.err, r.err_text, "stderr");
            if (!got) return;
        }
    }

    bool read_stream(run& r, int& fd, utf8_text& text, const char* name) {
        if (fd < 0) return false;
        auto chunk = read_chunk(fd);
        if (chunk.eof) {
            std::string rest = text.finish();
            if (!rest.empty()) queue_for(r, protocol::stream, json{{"name", name}, {"text", rest}});
            run_pipes::close_fd(fd);
            return false;
        }
        if (chunk.bytes.empty()) return false;
        std::string decoded = text.decode(chunk.bytes.data(), chunk.bytes.size());
        if (!decoded.empty()) queue_for(r, protocol::stream, json{{"name", name}, {"text", decoded}});
        return true;
    }

    std::vector<std::string> read_control(run& r) {
        if (r.pipes.ctl < 0) return {};
        auto chunk = read_chunk(r.pipes.ctl);
        if (chunk.eof) run_pipes::close_fd(r.pipes.ctl);
        r.ctl_buffer += chunk.bytes;
        if (r.ctl_buffer.size() > 4096) r.ctl_buffer.clear();  // not ltest's child speaking
        return take_lines(r.ctl_buffer);
    }

    void write_input(run& r, const std::string& text) {
        if (r.pipes.in < 0) return;
        if (text == "\x04") {
            r.pipes.close_in();
            return;
        }
        if (!write_some(r.pipes.in, text + "\n")) r.pipes.close_in();  // it closed its stdin, or it is full
    }

    // The run is over when its exit code is in and its output read, or when
    // everything closed without one (the kernel then tells how it ended).
    void finish_if_done(run& r) {
        if (r.phase() != run_phase::running && r.phase() != run_phase::handing_over) return;
        if (r.exit_code && r.output_open() && steady_clock::now() - *r.exit_at > leftover_grace && r.pid > 0) {
            ::kill(-r.pid, SIGKILL);  // processes the tests left behind hold the output
            pump_output(r, 1024);
            run_pipes::close_fd(r.pipes.out);
            run_pipes::close_fd(r.pipes.err);
        }
        // The execute reply comes first: it says whether the run had a spare.
        if (r.output_open() || (r.pipes.ctl >= 0 && !r.exit_code) || !r.reply_seen) return;
        std::optional<int> code = r.exit_code;
        if (!code && r.pid > 0) {
            auto it = reaped_.find(r.pid);
            if (it != reaped_.end()) code = it->second;
        }
        if (!code) return;  // the kernel has not reaped it yet
        reaped_.erase(r.pid);
        answer(r, run_reply_content(r.result, *code));
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
        receive(&kb::kernel_client::recv_shell, [&](const kb::message& m) { on_execute_reply(m); });
        receive(&kb::kernel_client::recv_stdin, [&](const kb::message& m) {
            run* r = relaying_run();
            if (!r || m.msg_type() != "input_request") return;
            r->input_request_header = m.header;
            queue_for(*r, protocol::input_request, m.content);
        });
        receive(&kb::kernel_client::recv_control, [](const kb::message&) {});
    }

    run* run_of_execute(const std::string& execute_id) {
        for (auto& r : runs_)
            if (!r.execute_id.empty() && r.execute_id == execute_id) return &r;
        return nullptr;
    }

    run* relaying_run() {
        for (auto& r : runs_)
            if (r.phase() == run_phase::relaying) return &r;
        return nullptr;
    }

    void on_iopub(const kb::message& m) {
        run* r = run_of_execute(m.parent_id());
        if (m.msg_type() == "status" && !r) {
            // Someone else's request (a notebook cell in a shared kernel).
            std::string state = m.content.value("execution_state", "");
            if (state == "busy") busy_with_others_.insert(m.parent_id());
            if (state == "idle") busy_with_others_.erase(m.parent_id());
        }
        if (!r) return;
        const std::string type = m.msg_type();
        if (type == "status" && m.content.value("execution_state", "") == "idle") {
            r->idle_seen = true;
            finish_execute(*r);
        }
        if (r->phase() != run_phase::relaying) return;
        if (type == "stream") {
            queue_for(*r, protocol::stream,
                      json{{"name", m.content.value("name", "stdout")}, {"text", m.content.value("text", "")}});
        } else if (type == "ltest_result") {
            // The runtime's early word: all output is already out (same socket, in order).
            answer(*r, run_reply_content(m.content, m.content.value("exit_code", exit_code::internal)));
        }
    }

    void on_execute_reply(const kb::message& m) {
        run* r = run_of_execute(m.parent_id());
        if (!r) return;
        r->reply_seen = true;
        const json& c = m.content;
        if (c.value("status", "") != "ok") {
            std::string why = c.value("ename", std::string("error")) + ": " + c.value("evalue", std::string());
            log::kernel().warn("the runtime failed: {}", why);
            if (r->phase() != run_phase::answered)
                answer(*r, failed_run(exit_code::internal, "ltest's runtime failed in the kernel: " + why));
        } else if (r->phase() == run_phase::handing_over) {
            r->result = runtime_result(c).value_or(json::object());
            auto pid = r->result.find("pid");
            r->pid = pid != r->result.end() && pid->is_number_integer() ? pid->get<int>() : 0;
            r->set_phase(run_phase::running);
            signal_run(*r);  // interrupts that came during the hand-over
        } else if (r->phase() == run_phase::relaying) {
            r->result = runtime_result(c).value_or(json::object());
        }
        finish_execute(*r);
    }

    // A relayed run ends with its execute request (reply and idle status).
    void finish_execute(run& r) {
        if (!r.reply_seen || !r.idle_seen) return;
        r.execute_id.clear();
        if (r.phase() == run_phase::relaying)
            answer(r, run_reply_content(r.result, r.result.value("exit_code", exit_code::internal)));
    }

    void start_runs() {
        if (stale_) {
            for (const auto& r : runs_)
                if (r.phase() == run_phase::handing_over || r.phase() == run_phase::running ||
                    r.phase() == run_phase::relaying || !r.execute_id.empty())
                    return;  // its test processes are the kernel's children: let them finish
            for (auto& r : runs_)
                if (r.phase() == run_phase::queued) return rewarm_for(r);
            return;
        }
        for (auto& r : runs_) {
            if (r.phase() != run_phase::queued) continue;
            if (!kernel_.hands_over()) {
                if (relaying_run() || any_execute_pending()) return;  // one at a time
                start_relayed(r);
                return;
            }
            if (!handover_.connected()) return;
            start_handed_over(r);
        }
    }

    bool any_execute_pending() const {
        for (const auto& r : runs_)
            if (!r.execute_id.empty()) return true;
        return false;
    }

    void start_handed_over(run& r) {
        try {
            r.pipes = run_pipes::open(r.spec.stdout_isatty, r.spec.stderr_isatty, r.spec.columns, r.spec.lines);
        } catch (const std::system_error& e) {
            answer(r, failed_run(exit_code::internal, std::string("cannot make the run's pipes: ") + e.what()));
            return;
        }
        handover_.send_run(r.id, json(r.spec).dump(-1, ' ', false, json::error_handler_t::replace), r.pipes.child);
        kb::execute_options opts;
        opts.user_expressions = runtime_result_expression();
        r.execute_id = kernel_.client().send_execute(runtime_call_code("take_run", json(r.id)), opts);
        r.set_phase(run_phase::handing_over);
        if (!busy_with_others_.empty()) queue_for(r, protocol::run_status, json{{"state", "kernel_busy"}});
        log::server().debug("run {} handed over: {}", r.id.substr(0, 8), json(r.spec.args).dump());
    }

    void start_relayed(run& r) {
        kb::execute_options opts;
        opts.allow_stdin = true;
        opts.user_expressions = runtime_result_expression();
        r.execute_id = kernel_.client().send_execute(runtime_call_code("serve", json(r.spec)), opts);
        r.set_phase(run_phase::relaying);
        if (!busy_with_others_.empty()) queue_for(r, protocol::run_status, json{{"state", "kernel_busy"}});
    }

    // A preloaded module changed on disk: restart the kernel before the next
    // run so that it never runs stale code, and tell that run's client why.
    void rewarm_for(run& r) {
        std::string file = *stale_;
        log::kernel().info("{} changed on disk; restarting the kernel", file);
        queue_for(r, protocol::run_status, json{{"state", "restarting"}, {"reason", file + " changed on disk"}});
        deliver();
        auto t0 = steady_clock::now();
        restart_kernel();
        double secs = duration<double>(steady_clock::now() - t0).count();
        log::kernel().info("restarted and preloaded in {:.2f} s", secs);
        queue_for(r, protocol::run_status, json{{"state", "restarted"}, {"seconds", secs}});
    }

    // A fresh kernel, warmed again; what depends on it follows.
    void restart_kernel() {
        stale_.reset();
        kernel_.restart();
        handover_.accept_kernel();
        busy_with_others_.clear();
        watch_.watch(kernel_.watched_files());
        info_.kernel_connection_file = kernel_.connection_file().string();
        write_runtime_file(info_);
        // The loop was blocked: keepalives waited in the socket.
        for (auto& r : runs_) r.last_heard = steady_clock::now();
    }

    // The client's run_reply from the runtime's result object.
    json run_reply_content(json result, int code) {
        if (!result.is_object()) result = json::object();
        json out = {{"status", "ok"}, {"exit_code", code},
                    {"duration", result.value("duration", 0.0)},
                    {"prestarted", result.value("spare", false)},  // ran in the spare forked ahead of time
                    {"practised", result.value("practised", false)}};  // ... which had warmed up (a practice run)
        fork_unsafe_ = result.value("fork_unsafe", json::array());
        if (!fork_unsafe_.empty()) out["fork_unsafe"] = fork_unsafe_;
        return out;
    }

    void answer(run& r, json content) {
        if (r.phase() == run_phase::answered) return;
        if (content.value("status", "") == "ok" && r.phase() != run_phase::relaying)
            content["duration"] = duration<double>(steady_clock::now() - r.started).count();
        ++runs_served_;
        queue_for(r, protocol::run_reply, std::move(content));
        r.set_phase(run_phase::answered);
        r.pipes = run_pipes();  // closes its ends: a test process still writing gets EPIPE
    }

    void on_kernel_death() {
        std::string why = kernel_.death_reason();
        log::kernel().warn("{}; restarting it", why);
        for (auto& r : runs_) {
            if (r.phase() == run_phase::queued || r.phase() == run_phase::answered) continue;
            if (r.pid > 0) ::kill(-r.pid, SIGKILL);  // what its tests left behind goes too
            answer(r, failed_run(exit_code::kernel_died, why + " during the run; ltest is restarting it, run again"));
        }
        reaped_.clear();
        try {
            restart_kernel();
        } catch (const ltest_error& e) {
            log::kernel().error("restart failed: {}", e.what());
            for (auto& r : runs_)
                if (r.phase() == run_phase::queued) answer(r, failed_run(exit_code::kernel_died, e.what()));
            deliver();
            throw;
        }
    }

    void shutdown() {
        for (auto& r : runs_) {
            if (r.phase() == run_phase::answered) continue;
            if (r.pid > 0) ::kill(-r.pid, SIGINT);
            if (r.phase() == run_phase::relaying) kernel_.interrupt();
            answer(r, failed_run(exit_code::no_server, "the server is stopping"));
        }
        deliver();
        kernel_.stop();
    }

    const options& opts_;
    server_info info_;
    kb::wire wire_;
    zmq::socket_t router_;
    handover_socket handover_;
    warm_kernel kernel_;
    preload_watch watch_;
    std::map<std::string, handler> handlers_;
    std::optional<std::string> stale_;  // a preloaded module's file that changed
    std::string session_ = kb::new_id();
    replay_guard replay_;
    std::list<run> runs_;
    std::map<int, int> reaped_;  // test process pid -> exit code, as the kernel reported
    int runs_served_ = 0;
    std::set<std::string> busy_with_others_;  // msg_ids of other clients' requests in progress
    json fork_unsafe_ = json::array();
    bool wrote_file_ = false;
    steady_clock::time_point started_ = steady_clock::now();
    steady_clock::time_point last_liveness_check_{};
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
