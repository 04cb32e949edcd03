// The kernel's side: its messages, starting runs (handed over or relayed),
// restarts, its death.
#include <signal.h>

#include <algorithm>
#include <thread>
#include <unistd.h>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/zmq/zmq_frames.hpp>

#include "byte_text.hpp"
#include "client_stdin.hpp"
#include "client_liveness.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "run_output.hpp"
#include "server_core.hpp"

namespace ltest {
using namespace std::chrono;

void server::drain_kernel(warm_kernel& k, int index) {
    auto& kc = k.client();
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
        run* r = relaying_run(index);
        if (!r || m.msg_type() != "input_request") return;
        if (on_shard_question(*r, m)) return;
        r->input_request_header = m.header;
        queue_for(*r, protocol::input_request, m.content);
    });
    receive(&kb::kernel_client::recv_control, [](const kb::message&) {});
}

run* server::run_of_execute(const std::string& execute_id) {
    for (auto& r : runs_)
        if (!r.execute_id.empty() && r.execute_id == execute_id) return &r;
    return nullptr;
}

run* server::relaying_run(int kernel) {
    for (auto& r : runs_)
        if (r.phase() == run_phase::relaying && r.kernel == kernel) return &r;
    return nullptr;
}

// Relayed runs go one at a time to each kernel: the usable ones with none.
std::vector<int> server::free_kernels() {
    std::vector<int> out;
    for (int k = 0; k <= static_cast<int>(gateway_pool_.size()); ++k) {
        if (k == 0 ? !kernel_ready() : !gateway_pool_.ready(static_cast<std::size_t>(k - 1))) continue;
        bool busy = false;
        for (const auto& r : runs_) busy |= r.kernel == k && (r.phase() == run_phase::relaying || !r.execute_id.empty());
        if (!busy) out.push_back(k);
    }
    return out;
}

int server::free_kernel() {
    auto free = free_kernels();
    return free.empty() ? -1 : free.front();
}

// A gateway kernel died (its keeper restarts it): its run is answered as
// kernel_'s would be, or taken over if it led a sharded run.
void server::on_gateway_kernel_death(int k, const std::string& why) {
    for (auto& r : runs_)
        if (r.kernel == k && (r.phase() == run_phase::relaying || !r.execute_id.empty())) {
            r.execute_id.clear();  // its execute request died with the kernel: the kernel's turn is free
            if (take_over_lead(r, why)) continue;
            answer(r, failed_run(exit_code::kernel_died, why + " during the run; ltest is restarting it, run again"));
        }
}

// A gateway kernel is free, or will be: one whose thread (a restart, a
// sync) is under way, or one whose run ends.
bool server::kernel_to_come() {
    if (!free_kernels().empty() || first_keeper_.busy() || gateway_pool_.busy()) return true;
    for (const auto& r : runs_)
        if (r.phase() == run_phase::relaying) return true;
    return false;
}

// A run waits and no gateway kernel can take it, now or later: the failed
// ones are tried again at once (the keepers' next tick), and the run is
// answered if that fails too (on_gateway_restart_failed).
void server::retry_kernels_for_queued_runs() {
    bool queued = std::any_of(runs_.begin(), runs_.end(), [](const run& r) { return r.phase() == run_phase::queued; });
    if (!queued || kernel_to_come()) return;
    first_keeper_.retry_now();
    gateway_pool_.retry_now();
}

void server::on_gateway_restart_failed(const std::string& why) {
    if (kernel_to_come()) return;
    for (auto& r : runs_)
        if (r.phase() == run_phase::queued)
            answer(r, failed_run(exit_code::startup, "the kernel could not be restarted: " + why +
                                                         " (the server retries at the next run)"));
}

void server::on_iopub(const kb::message& m) {
    run* r = run_of_execute(m.parent_id());
    if (m.msg_type() == "status" && !r) {
        // Someone else's request (a notebook cell in a shared kernel).
        std::string state = m.content.value("execution_state", "");
        if (state == "busy") busy_with_others_.insert(m.parent_id());
        if (state == "idle") busy_with_others_.erase(m.parent_id());
        if (state == "busy")  // runs sent to the kernel but not started wait for that cell
            for (auto& waiting : runs_)
                if ((!waiting.execute_id.empty() && !waiting.kernel_started) ||
                    waiting.phase() == run_phase::handing_over)
                    tell_busy(waiting);
    }
    if (!r) return;
    const std::string type = m.msg_type();
    if (type == "status" && m.content.value("execution_state", "") == "busy") r->kernel_started = true;
    if (type == "status" && m.content.value("execution_state", "") == "idle") {
        r->idle_seen = true;
        finish_execute(*r);
    }
    if (r->phase() != run_phase::relaying) return;
    if (type == "stream") {  // the kernel's text: a NUL in it is escaped as the client reads it (byte_text.hpp)
        queue_for(*r, protocol::stream,
                  json{{"name", m.content.value("name", "stdout")}, {"text", bytes_to_text(m.content.value("text", ""))}});
    } else if (type == "ltest_result") {
        // The runtime's early word: all output is already out (same socket, in order).
        answer(*r, run_reply_content(m.content, m.content.value("exit_code", exit_code::internal)));
    }
}

void server::on_execute_reply(const kb::message& m) {
    run* r = run_of_execute(m.parent_id());
    if (!r) return;
    r->reply_seen = true;
    const json& c = m.content;
    if (c.value("status", "") != "ok") {
        std::string why = c.value("ename", std::string("error")) + ": " + c.value("evalue", std::string());
        log::kernel().warn("the runtime failed: {}", why);
        if (r->phase() != run_phase::answered)
            answer(*r, failed_run(exit_code::internal, "ltest's runtime failed in the kernel: " + why));
    } else if (r->phase() == run_phase::relaying) {
        r->result = runtime_result(c).value_or(json::object());
    }
    finish_execute(*r);
}

// The kernel's event loop took a handed-over run (handover_socket.hpp).
void server::on_taken(const taken_run& t) {
    auto it = std::find_if(runs_.begin(), runs_.end(), [&](const run& r) { return r.id == t.id; });
    if (it == runs_.end() || it->phase() != run_phase::handing_over) return;  // answered meanwhile
    run& r = *it;
    r.taken = true;
    if (t.error) {
        log::kernel().warn("the runtime failed: {}", *t.error);
        answer(r, failed_run(exit_code::internal, "ltest's runtime failed in the kernel: " + *t.error));
        return;
    }
    r.result = t.result.is_object() ? t.result : json::object();
    auto pid = r.result.find("pid");
    r.pid = pid != r.result.end() && pid->is_number_integer() ? pid->get<int>() : 0;
    r.set_phase(run_phase::running);
    signal_run(r);  // interrupts that came during the hand-over
}

// Runs sent on a hand-over socket the kernel closed, and it lives on: lost.
void server::abandon_handovers() {
    if (handover_.connected()) return;
    auto now = steady_clock::now();
    for (auto& r : runs_)
        if (r.phase() == run_phase::handing_over && now - r.handed_at > handover_lost_grace)
            answer(r, failed_run(exit_code::internal,
                                 "the kernel closed ltest's hand-over socket before it took the run; run again"));
}

// A relayed run ends with its execute request (reply and idle status).
void server::finish_execute(run& r) {
    if (!r.reply_seen || !r.idle_seen) return;
    r.execute_id.clear();
    if (r.phase() == run_phase::relaying)
        answer(r, run_reply_content(r.result, r.result.value("exit_code", exit_code::internal)));
}

void server::start_runs() {
    if (stop_requested) return;  // stopping: what runs ends, nothing new starts
    if (gateway_mode()) retry_kernels_for_queued_runs();
    // A restart in the loop (a preload's edit; a local kernel's failed
    // restart), never while a thread owns a gateway's first kernel.
    if (!first_keeper_.busy() && (stale_ || (!gateway_mode() && !kernel_.usable()))) {
        for (const auto& r : runs_)
            if (r.phase() == run_phase::handing_over || r.phase() == run_phase::running ||
                r.phase() == run_phase::relaying || r.phase() == run_phase::syncing || !r.execute_id.empty())
                return;  // its test processes are the kernel's children: let them finish
        auto first = std::find_if(runs_.begin(), runs_.end(), [](const run& r) { return r.phase() == run_phase::queued; });
        if (first == runs_.end() || !kernel_ready_for(*first)) return;
    }
    for (auto& r : runs_) {
        if (r.phase() != run_phase::queued) continue;
        if (!hands_over()) {
            int k = free_kernel();  // one at a time per kernel
            if (k < 0) return;
            if (r.shard_lead) {  // its lead's kernel died: it leads again here
                resume_lead(r, k);
                continue;
            }
            if (start_sharded(r)) continue;  // its helpers are relaying: the loop passes them by
            r.kernel = k;
            sync_then_start(r);  // a gateway's kernel: its tree first (the run syncing meanwhile)
            continue;
        }
        if (!handover_.connected()) return;
        start_handed_over(r);
    }
    join_shard_jobs();  // the kernels no queued run wanted
}

void server::start_handed_over(run& r) {
    try {
        r.pipes = run_pipes::open(r.spec.stdout_isatty, r.spec.stderr_isatty, r.spec.columns, r.spec.lines,
                                  r.spec.stderr_is_stdout);
    } catch (const std::system_error& e) {
        answer(r, failed_run(exit_code::internal, std::string("cannot make the run's pipes: ") + e.what()));
        return;
    }
    json request = r.spec;
    if (r.client_here && r.spec.stdin_file) {  // the client's stdin itself, else lines on demand (child_stdin.py)
        const auto& f = *r.spec.stdin_file;
        int fd = open_client_stdin(r.spec.client_pid, {static_cast<std::uint64_t>(f[0]), static_cast<std::uint64_t>(f[1]), f[2]});
        if (fd >= 0) r.pipes.use_stdin(fd);
        request["stdin_direct"] = fd >= 0;
    }
    // The kernel's event loop takes it from the socket (on_taken): no execute request.
    handover_.send_run(r.id, request.dump(-1, ' ', false, json::error_handler_t::replace), r.pipes.child);
    r.handed_at = steady_clock::now();
    r.set_phase(run_phase::handing_over);
    if (!busy_with_others_.empty()) tell_busy(r);
    // The args as sent (bytes that are not UTF-8 escaped: byte_text.hpp).
    log::server().debug("run {} handed over: {}", r.id.substr(0, 8), request["args"].dump());
}

void server::start_relayed(run& r) {
    kb::execute_options opts;
    opts.allow_stdin = true;
    opts.user_expressions = runtime_result_expression();
    json spec = r.spec;
    // Its test process's part in a sharded run (gateway_shards.py takes it out of the environment).
    if (r.shard_lead || !r.shard_of.empty()) spec["env"]["LTEST_SHARD_ROLE"] = r.shard_lead ? "lead" : "helper";
    r.execute_id = kernel_for(r).client().send_execute(runtime_call_code("serve", spec), opts);
    ++runs_by_kernel_[r.kernel];
    r.set_phase(run_phase::relaying);
    if (!busy_with_others_.empty()) tell_busy(r);
}

void server::tell_busy(run& r) {
    if (r.told_busy) return;
    r.told_busy = true;
    queue_for(r, protocol::run_status, json{{"state", protocol::run_state::kernel_busy}});
}

// A preloaded module changed on disk: restart the kernel before the next
// run so that it never runs stale code, and tell that run's client why.
void server::rewarm_for(run& r) {
    std::string file = *stale_;
    log::kernel().info("{} changed on disk; restarting the kernel", file);
    queue_for(r, protocol::run_status, json{{"state", protocol::run_state::restarting}, {"reason", file + " changed on disk"}});
    deliver();
    auto t0 = steady_clock::now();
    restart_kernel();
    double secs = duration<double>(steady_clock::now() - t0).count();
    log::kernel().info("restarted and preloaded in {:.2f} s", secs);
    queue_for(r, protocol::run_status, json{{"state", protocol::run_state::restarted}, {"seconds", secs}});
}

// A fresh kernel, warmed again; what depends on it follows.
void server::restart_kernel() {
    stale_.reset();
    kernel_.restart();
    kernel_restarted();
}

void server::kernel_restarted() {
    handover_.accept_kernel();
    busy_with_others_.clear();
    watch_.watch(kernel_.watched_files());
    info_.kernel_connection_file = kernel_.connection_file().string();
    info_.python = kernel_.python();  // asked again at the restart: from PATH, it may be another python3 now
    info_.python_skipped = kernel_.python_skipped();
    runtime_file_.write(info_);  // a full disk is a warning here, not the server's end
    // The loop was blocked: keepalives waited in the socket.
    for (auto& r : runs_) r.last_heard = steady_clock::now();
}

// The client's run_reply from the runtime's result object.
json server::run_reply_content(json result, int code) {
    if (!result.is_object()) result = json::object();
    json out = {{"status", "ok"}, {"exit_code", code},
                {"duration", result.value("duration", 0.0)},
                {"prestarted", result.value("spare", false)},  // ran in the spare forked ahead of time
                {"practised", result.value("practised", false)},  // ... which had warmed up (a practice run)
                {"prepared", result.value("prepared", false)},  // ... and was prepared for this very request
                // what its test process started from: a spare's state (waiting, ready, prepared) or forked
                {"spare", result.value("spare_kind", result.value("spare", false) ? "spare" : "forked")},
                // the learned modules the kernel held when it started (learn_idle.py)
                {"learned_held", result.value("learned_held", json::array())},
                // seconds the hand-over waited for a spare being prepared for this very run
                {"waited", result.value("waited", 0.0)}};
    fork_unsafe_ = result.value("fork_unsafe", json::array());
    if (!fork_unsafe_.empty()) out["fork_unsafe"] = fork_unsafe_;
    return out;
}

void server::answer(run& r, json content) {
    if (r.phase() == run_phase::answered) return;
    if (content.value("status", "") == "ok" && r.phase() != run_phase::relaying)
        content["duration"] = duration<double>(steady_clock::now() - r.started).count();
    if (r.shard_of.empty()) ++runs_served_;  // a helper is part of its lead's run
    queue_for(r, protocol::run_reply, std::move(content));
    r.set_phase(run_phase::answered);
    shard_run_ended(r);
    r.pipes = run_pipes();  // closes its ends: a test process still writing gets EPIPE
}

void server::on_kernel_death() {
    std::string why = kernel_.death_reason();
    log::kernel().warn("{}; restarting it", why);
    for (auto& r : runs_) {
        if (r.phase() == run_phase::queued || r.phase() == run_phase::answered || r.kernel != 0) continue;
        if (r.pid > 0) ::kill(-r.pid, SIGKILL);  // what its tests left behind goes too
        answer(r, failed_run(exit_code::kernel_died, why + " during the run; ltest is restarting it, run again"));
    }
    reaped_.clear();
    try {
        restart_kernel();
    } catch (const std::exception& e) {
        // The server keeps serving: the next run retries (kernel_ready_for).
        log::kernel().error("restart failed: {}; the next run retries", e.what());
    }
}

bool server::kernel_ready_for(run& r) {
    try {
        if (stale_) rewarm_for(r);
        if (!kernel_.usable()) restart_kernel();
        return true;
    } catch (const std::exception& e) {  // ltest_error, or a file that could not be written
        log::kernel().error("restart failed: {}", e.what());
        for (auto& other : runs_) other.last_heard = steady_clock::now();  // the loop was blocked
        answer(r, failed_run(exit_code::startup, "the kernel could not be restarted: " + std::string(e.what()) +
                                                     " (the server retries at the next run)"));
        return false;
    }
}

// Runs in flight are interrupted as Ctrl-C would (their clients get pytest's
// summary), given a moment to finish, then killed; queued runs are told.
void server::shutdown() {
    bool running = false;
    for (auto& r : runs_) {
        if (r.phase() == run_phase::queued || r.phase() == run_phase::syncing)
            answer(r, failed_run(exit_code::no_server, "the server is stopping"));
        if (r.phase() == run_phase::answered) continue;
        running = true;
        r.interrupts = std::max(r.interrupts, 1);
        signal_run(r);
    }
    auto deadline = steady_clock::now() + shutdown_grace;
    while (running && steady_clock::now() < deadline) {
        loop_once();  // stop_requested: nothing new starts, what runs ends
        running = false;
        for (const auto& r : runs_) running |= r.phase() != run_phase::answered;
    }
    for (auto& r : runs_) {
        if (r.pid > 0 && r.phase() != run_phase::answered) ::kill(-r.pid, SIGKILL);
        answer(r, failed_run(exit_code::no_server, "the server stopped during the run"));
    }
    for (auto flush_until = steady_clock::now() + seconds(1); !runs_.empty() && steady_clock::now() < flush_until;) {
        deliver();  // the answers, to clients still reading
        std::this_thread::sleep_for(milliseconds(5));
    }
    try {
        first_keeper_.wait();  // a restart under way (stop_requested cuts its waits short) owns the kernel
    } catch (const std::exception& e) {
        log::kernel().debug("the restart under way ended: {}", e.what());
    }
    kernel_.stop();
}

}  // namespace ltest
