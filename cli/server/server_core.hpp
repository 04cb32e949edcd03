#pragma once
// The server's state and its parts, one file each: server.cpp (start, the
// event loop, stop), server_clients.cpp (the client messages, one handler
// per type, and their delivery), server_runs.cpp (a handed-over run's fds),
// server_kernel.cpp (the kernel's messages, starting runs, restarts).
// Private to cli/server/.
#include <atomic>
#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <kernel_bridge/message.hpp>
#include <kernel_bridge/wire.hpp>
#include <zmq.hpp>

#include "connect_gate.hpp"
#include "connection_guard.hpp"
#include "gateway_pool.hpp"
#include "gateway_token.hpp"
#include "handover_socket.hpp"
#include "idle_timer.hpp"
#include "learned_preloads.hpp"
#include "project_root.hpp"
#include "options.hpp"
#include "preload_watch.hpp"
#include "protocol.hpp"
#include "replay_guard.hpp"
#include "run.hpp"
#include "runtime_file.hpp"
#include "runtime_file_keeper.hpp"
#include "kernel_keeper.hpp"
#include "shard_job.hpp"
#include "tree_sync.hpp"
#include "warm_kernel.hpp"

#include <kernel_bridge/jupyter_paths.hpp>
#include <kernel_bridge/connection_file.hpp>

namespace ltest {
namespace kb = kernel_bridge;
using nlohmann::json;

// Set by SIGINT/SIGTERM/SIGHUP and by a shutdown request.
inline std::atomic<bool> stop_requested{false};

// A run_reply for a run ltest itself could not carry out.
inline json failed_run(int code, const std::string& why) {
    return json{{"status", "error"}, {"exit_code", code}, {"error", why}};
}

// After its exit code, how long a run's output may stay open (held by
// processes the tests left behind) before its process group is killed.
inline constexpr auto leftover_grace = std::chrono::seconds(1);
// On --stop or Ctrl-C, how long runs in flight get to end after SIGINT.
inline constexpr auto shutdown_grace = std::chrono::seconds(3);
// A kernel that closes its hand-over socket is dying: its death answers the
// runs it had not taken yet, with the reason. One that lives on has lost
// them: they are answered after this long.
inline constexpr auto handover_lost_grace = std::chrono::seconds(1);
// A lost client's tests get SIGINT, then this long before SIGKILL.
inline constexpr auto lost_kill_after = std::chrono::seconds(2);

class server {
public:
    server(const options& o, zmq::context_t& ctx)
        : opts_(o),
          info_{o.ip, o.port.value_or(default_port), kb::random_key(), "hmac-sha256", static_cast<int>(::getpid()), "", LTEST_VERSION,
                // clients pick their project's server by these two
                server_root(std::filesystem::current_path()), o.kernel, "", {}},
          wire_(info_.signature_scheme, info_.key),
          gate_(ctx, protocol::connect_password(info_.signature_scheme, info_.key)),  // before the ROUTER binds
          router_(ctx, zmq::socket_type::router),
          guard_(ctx, router_),  // unauthenticated connections bounded (connection_guard.hpp)
          handover_(kb::jupyter_runtime_dir() / ("ltest-" + std::to_string(info_.port) + ".sock"), kb::random_key()),
          kernel_(ctx, kernel_settings{o.kernel, o.existing, o.modules, "127.0.0.1", [] { return stop_requested.load(); },
                                       handover_.path().string(), learned_preload_settings(o),
                                       server_python_choice(o, project_root(std::filesystem::current_path())),
                                       project_root(std::filesystem::current_path()), handover_.token(),
                                       gateway_settings(o)}),
          first_keeper_(kernel_),
          gateway_pool_(ctx, kernel_.settings(), o.gateway.empty() ? 0 : o.gateway_kernels - 1) {
        gateway_pool_.on_death([this](std::size_t i, const std::string& why) { on_gateway_kernel_death(static_cast<int>(i) + 1, why); });
        gateway_pool_.on_failure([this](const std::string& why) { on_gateway_restart_failed(why); });
        handlers_ = {{protocol::run_request, &server::on_run_request},
                     {protocol::keepalive, &server::on_keepalive},
                     {protocol::input_reply, &server::on_input_reply},
                     {protocol::interrupt_request, &server::on_interrupt_request},
                     {protocol::status_request, &server::on_status_request},
                     {protocol::shutdown_request, &server::on_shutdown_request}};
    }

    int serve();
    ~server();

private:
    using handler = void (server::*)(const kb::message&);
    void bind();
    void loop_once();

    // --- clients -------------------------------------------------------------

    void drain_clients();
    static std::string client_of(const kb::message& msg);
    std::vector<std::string> frames_for(const std::string& client, const std::string& type, json content,
                                        const json& parent) {
        kb::message m = kb::make_message(type, std::move(content), session_, parent);
        m.identities = {client};
        return wire_.serialize(m);
    }

    void send_to(const std::string& client, const std::string& type, json content, const json& parent);
    void queue_for(run& r, const std::string& type, json content);
    enum class send_result { sent, full, gone };
    send_result try_send(const std::vector<std::string>& frames);
    void deliver();
    run* find_run(const std::string& client, const std::string& run_id);
    void on_run_request(const kb::message& msg);
    void on_keepalive(const kb::message& msg);
    void on_input_reply(const kb::message& msg);
    void on_interrupt_request(const kb::message& msg);
    void on_status_request(const kb::message& msg) { send_to(client_of(msg), protocol::status_reply, status(), msg.header); }

    void on_shutdown_request(const kb::message& msg);
    void signal_run(run& r);
    void drop_lost_clients();
    json status();

    // --- a handed-over run's fds ----------------------------------------------

    void add_poll_items(run& r, std::vector<zmq::pollitem_t>& items);
    void pump(run& r);
    void pump_output(run& r, int reads);
    bool read_stream(run& r, int& fd, bool& hung_up, utf8_text& text, const char* name);
    void drain_hung_up(run& r, int& fd, bool& hung_up, utf8_text& text, const char* name);
    void end_stream(run& r, int& fd, utf8_text& text, const char* name);
    std::vector<std::string> read_control(run& r);
    void write_input(run& r, const std::string& text);
    void finish_if_done(run& r);

    // --- the kernel ----------------------------------------------------------

    void drain_kernel(warm_kernel& k, int index);
    run* run_of_execute(const std::string& execute_id);
    run* relaying_run(int kernel = 0);
    // The kernel a relayed run is on; the first kernel free for one (-1: none).
    warm_kernel& kernel_for(const run& r) { return r.kernel == 0 ? kernel_ : gateway_pool_.at(r.kernel - 1); }
    int free_kernel();
    std::vector<int> free_kernels();
    // kernel_ may be used by the event loop (not a gateway's being restarted on its thread).
    bool kernel_ready() const { return first_keeper_.ready(); }
    bool hands_over() const { return !first_keeper_.busy() && kernel_.hands_over(); }
    bool gateway_mode() const { return kernel_.settings().gateway.has_value(); }
    // A gateway kernel (0: kernel_) died: its runs are answered (a sharded lead's taken over).
    void on_gateway_kernel_death(int k, const std::string& why);
    // A gateway kernel's restart failed: queued runs that no kernel can take are told why.
    void on_gateway_restart_failed(const std::string& why);
    void retry_kernels_for_queued_runs();
    bool kernel_to_come();
    // What depends on kernel_ follows a restart of it.
    void kernel_restarted();
    void on_iopub(const kb::message& m);
    void on_execute_reply(const kb::message& m);
    void finish_execute(run& r);
    void start_runs();
    void start_handed_over(run& r);
    void on_taken(const taken_run& t);
    void abandon_handovers();
    void start_relayed(run& r);
    // server_shards.cpp: `-n` over the gateway's kernels.
    bool start_sharded(run& lead);
    void start_helper(const run& lead, shard_job& job, int kernel);
    void join_shard_jobs();
    bool take_over_lead(run& lead, const std::string& why);
    void resume_lead(run& lead, int kernel);
    bool on_shard_question(run& r, const kb::message& m);
    void answer_shard_question(run& r, const nlohmann::json& header, const nlohmann::json& question);
    void shard_run_ended(run& r);
    void signal_helpers(const run& lead);
    // server_tree_sync.cpp: a gateway kernel's project tree made the client's
    // first (on a thread when the kernel must be asked), then the run starts
    // there; or it is answered with the reason.
    void sync_then_start(run& r);
    void synced(run& r, const sync_outcome& out, const std::filesystem::path& root);
    kernel_keeper& keeper_for(int kernel);
    // A fresh kernel first if a preload changed or a restart failed; false (the
    // run answered with the reason) if the kernel cannot be had now.
    bool kernel_ready_for(run& r);
    // The run waits for someone else's request (a notebook cell): its client is told, once.
    void tell_busy(run& r);
    void rewarm_for(run& r);
    void restart_kernel();
    json run_reply_content(json result, int code);
    void answer(run& r, json content);
    void on_kernel_death();
    void shutdown();
    const options& opts_;
    server_info info_;
    kb::wire wire_;
    connect_gate gate_;  // only key holders get a message read (connect_gate.hpp)
    zmq::socket_t router_;
    connection_guard guard_;
    runtime_file_keeper runtime_file_;  // rewritten if it disappears
    handover_socket handover_;
    // An eventfd the keepers' threads write as they end, so the loop wakes;
    // declared before them, so closed only after their threads are joined.
    wake_event wake_;
    warm_kernel kernel_;
    kernel_keeper first_keeper_;  // a gateway's kernel_: restarted on a thread of its own (kernel_keeper.hpp)
    gateway_pool gateway_pool_;  // --gateway-kernels K: the K-1 beyond kernel_
    tree_sync tree_sync_;        // the gateway kernels' copies of the project tree
    preload_watch watch_;
    idle_timer idle_{opts_.idle};  // --idle: no run and no client for this long stops the server
    std::map<std::string, handler> handlers_;
    std::optional<std::string> stale_;  // a preloaded module's file that changed
    std::string session_ = kb::new_id();
    replay_guard replay_;
    std::list<run> runs_;
    std::map<std::string, shard_job> shard_jobs_;  // by lead run id
    std::map<int, int> reaped_;  // test process pid -> exit code, as the kernel reported
    int runs_served_ = 0;
    std::map<int, int> runs_by_kernel_;  // relayed runs started on each kernel (--status' gateway_kernels)
    std::set<std::string> busy_with_others_;  // msg_ids of other clients' requests in progress
    json fork_unsafe_ = json::array();
    bool wrote_file_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_liveness_check_{};
};

}  // namespace ltest
