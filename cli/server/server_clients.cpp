// The clients' messages (one handler per type, in server::handlers_), their
// delivery in order as each client reads, lost clients, the status.
#include <signal.h>
#include <unistd.h>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/zmq/zmq_frames.hpp>

#include "client_liveness.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "run_output.hpp"
#include "run_signals.hpp"
#include "server_core.hpp"

namespace ltest {
using namespace std::chrono;

void server::drain_clients() {
    for (int i = 0; i < 64; ++i) {  // bounded, so the kernel side is not starved
        zmq::multipart_t frames;
        if (!frames.recv(router_, static_cast<int>(zmq::recv_flags::dontwait))) return;
        int source_fd = connection_guard::source_fd(frames);
        kb::message msg;
        try {
            msg = wire_.deserialize(kernel_bridge::take_frames(frames));
        } catch (const kb::bad_message& e) {
            // Unauthenticated peers learn nothing: dropped and logged.
            log::dropped(std::string("dropped a message: ") + e.what());  // rate-limited (log.hpp)
            continue;
        }
        if (!replay_.first_time(msg.msg_id())) {
            log::dropped("dropped a replayed message (" + msg.msg_id() + ")");
            continue;
        }
        guard_.authenticated(source_fd);  // signed, not replayed: this connection may stay
        log::server().debug("<- {} from client", msg.msg_type());
        idle_.touch();  // a client spoke
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

std::string server::client_of(const kb::message& msg) {
    return msg.identities.empty() ? std::string() : msg.identities.front();
}

// Sends now or never: a client that is not reading loses this answer, not the server its loop.
void server::send_to(const std::string& client, const std::string& type, json content, const json& parent) {
    if (try_send(frames_for(client, type, std::move(content), parent)) != send_result::sent)
        log::server().debug("{} not delivered: the client is gone or not reading", type);
}

void server::queue_for(run& r, const std::string& type, json content) {
    if (r.client.empty()) return;  // a sharded run's helper: its lead speaks for it
    r.queue(frames_for(r.client, type, std::move(content), r.request_header));
}

server::send_result server::try_send(const std::vector<std::string>& frames) {
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
void server::deliver() {
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

run* server::find_run(const std::string& client, const std::string& run_id) {
    for (auto& r : runs_)
        if (r.client == client && (run_id.empty() || r.id == run_id) && r.phase() != run_phase::answered) return &r;
    return nullptr;
}

void server::on_run_request(const kb::message& msg) {
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
    if (!hands_over())
        for (const auto& other : runs_) ahead += other.phase() == run_phase::queued || other.phase() == run_phase::relaying;
    queue_for(r, protocol::run_status, json{{"state", ahead ? protocol::run_state::queued : protocol::run_state::starting}, {"ahead", ahead}});
    runs_.push_back(std::move(r));
}

void server::on_keepalive(const kb::message& msg) {
    for (auto& r : runs_)
        if (r.client == client_of(msg) && r.id == msg.parent_id()) r.last_heard = steady_clock::now();
}

void server::on_input_reply(const kb::message& msg) {
    run* r = find_run(client_of(msg), msg.parent_id());
    if (!r) return;
    auto value = msg.content.find("value");
    // Anything but a string is taken as end of input, so the test is not left waiting.
    std::string text = (value != msg.content.end() && value->is_string()) ? value->get<std::string>() : "\x04";
    if (r->phase() == run_phase::relaying) {
        if (r->input_request_header.empty()) return;
        kernel_for(*r).client().send_input_reply(text, r->input_request_header);
        r->input_request_header = json::object();
    } else {
        write_input(*r, text);
    }
}

void server::on_interrupt_request(const kb::message& msg) {
    run* r = find_run(client_of(msg), msg.parent_id());
    if (!r) r = find_run(client_of(msg), "");
    if (!r) return;
    if (r->phase() == run_phase::queued || r->phase() == run_phase::syncing) {  // a sync ending later finds it answered
        r->set_phase(run_phase::answered);
        queue_for(*r, protocol::run_reply,
                  json{{"status", "ok"}, {"exit_code", exit_code::pytest_interrupted}, {"error", "interrupted while waiting for the kernel"}});
        shard_run_ended(*r);  // a lead waiting to take its run over: its helpers stop
        return;
    }
    ++r->interrupts;
    signal_run(*r);
    if (r->shard_lead) signal_helpers(*r);
}

void server::on_shutdown_request(const kb::message& msg) {
    send_to(client_of(msg), protocol::shutdown_reply, json{{"status", "ok"}}, msg.header);
    stop_requested = true;
}

// The first interrupt is Ctrl-C in a terminal (KeyboardInterrupt), the next kills.
void server::signal_run(run& r) {
    if (r.phase() == run_phase::relaying) {
        kernel_for(r).interrupt();
        return;
    }
    while (r.pid > 0 && r.interrupts_sent < r.interrupts) {
        if (r.interrupts_sent == 0)
            interrupt_run_group(r.pid);
        else
            ::kill(-r.pid, SIGKILL);
        ++r.interrupts_sent;
    }
}

// A client whose process ended (on this host), or that went silent (on
// another): its queued runs are dropped, its running tests interrupted,
// then killed. A stopped client (Ctrl-Z) is neither: its run waits.
void server::drop_lost_clients() {
    auto now = steady_clock::now();
    if (now - last_liveness_check_ < milliseconds(250)) return;
    last_liveness_check_ = now;
    for (auto it = runs_.begin(); it != runs_.end();) {
        run& r = *it;
        bool lost = r.phase() != run_phase::answered && r.shard_of.empty() &&  // a helper lives with its lead
                    (r.client_here ? state_of(r.spec.client_pid) == process_state::gone
                                   : now - r.last_heard > milliseconds(protocol::client_lost_after_ms));
        if (lost && (r.phase() == run_phase::queued || r.phase() == run_phase::syncing)) {
            shard_run_ended(r);  // a lead waiting to take its run over: its helpers stop
            it = runs_.erase(it);
            continue;
        }
        if (lost && (r.lost_interrupts == 0 || (r.lost_interrupts == 1 && now - r.lost_at > lost_kill_after))) {
            if (r.lost_interrupts == 0) log::server().warn("the client of run {} is gone; stopping its tests", r.id.substr(0, 8));
            ++r.lost_interrupts;
            r.lost_at = now;
            r.interrupts = std::max(r.interrupts, r.lost_interrupts);
            signal_run(r);
            if (r.shard_lead) signal_helpers(r);
        }
        ++it;
    }
}

json server::status() {
    json s = first_keeper_.status();  // kernel_'s, or what it was while a gateway's is restarted
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
        if (!r.shard_of.empty()) continue;  // a helper: in its lead's entry
        json entry{{"pid", r.pid}, {"cwd", r.spec.cwd}, {"args", r.spec.args}, {"phase", phase_name(r.phase())},
                   {"age", duration<double>(now - r.started).count()}};
        if (auto job = shard_jobs_.find(r.id); job != shard_jobs_.end()) {  // sharded: each kernel's part, numbered as --status lists them
            json finished = json::object();
            for (const auto& [k, n] : job->second.finished_by_kernel()) finished[std::to_string(k + 1)] = n;
            entry["shards"] = {{"lead_kernel", r.phase() == run_phase::queued ? 0 : r.kernel + 1},
                               {"handed_out", job->second.handed_out()}, {"finished_by_kernel", finished}};
        }
        in_flight.push_back(std::move(entry));
    }
    s["queued"] = queued;
    s["in_flight"] = in_flight;
    s["run_in_flight"] = in_flight.size() > queued;
    s["hand_over"] = hands_over();
    s["project_root"] = info_.project_root;
    s["idle_timeout"] = idle_.seconds() ? json(*idle_.seconds()) : json(nullptr);
    s["fork_safe"] = fork_unsafe_.empty();
    s["fork_unsafe"] = fork_unsafe_;  // as of the last run
    s["server_uptime"] = duration<double>(steady_clock::now() - started_).count();
    if (s.contains("gateway")) {  // --gateway: each kernel, the token never
        json kernels = gateway_pool_.status(runs_by_kernel_);
        kernels.insert(kernels.begin(), gateway_kernel_entry(s, runs_by_kernel_[0]));
        for (const auto& r : runs_)  // a warm kernel with a run on it is running it
            if (r.phase() == run_phase::relaying && r.kernel >= 0 && static_cast<std::size_t>(r.kernel) < kernels.size() &&
                kernels[static_cast<std::size_t>(r.kernel)].value("state", "") == "warm")
                kernels[static_cast<std::size_t>(r.kernel)]["state"] = "running";
        s["gateway_kernels"] = kernels;
    }
    return s;
}

}  // namespace ltest
