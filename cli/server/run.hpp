#pragma once
// One client's run, from its run_request to the delivery of its run_reply:
// data and named phases, no sockets (server.cpp does the I/O).
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol.hpp"
#include "run_pipes.hpp"

namespace ltest {

enum class run_phase {
    queued,        // waiting for the kernel: a restart first, or (relay) the run ahead
    handing_over,  // request and fds sent; the kernel's execute request may wait behind a notebook cell
    running,       // the test process runs and talks to the server through its fds
    syncing,       // its gateway kernel's project tree is brought up to date (on a thread: server_tree_sync.cpp)
    relaying,      // a kernel on another host: the run is one execute request, output on iopub
    answered,      // run_reply queued for the client; the run ends once it is delivered
};

const char* phase_name(run_phase p);

// Output the server holds for a run's client before it stops reading the
// test process's output (whose writes then block, as with a pager).
inline constexpr std::size_t max_buffered_output = 1 << 20;

struct run {
    std::string id;  // the run_request's msg_id: what keepalives and interrupts name
    std::string client;  // ROUTER identity
    nlohmann::json request_header;
    protocol::run_spec spec;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    run_phase phase() const { return phase_; }
    void set_phase(run_phase next);  // logged

    // The kernel's part.
    std::string execute_id;
    int kernel = 0;                   // relayed: which kernel (0: the server's own; i: gateway_pool's i-1)
    int pid = 0;                      // the test process (its process group), once the kernel said
    nlohmann::json result = nlohmann::json::object();  // the kernel's taken report or serve result
    int interrupts = 0;               // asked by the client (Ctrl-C); applied once pid is known
    int interrupts_sent = 0;
    nlohmann::json input_request_header;  // relay: the kernel's pending input_request
    bool reply_seen = false, idle_seen = false;  // the execute request is over (relayed runs)
    bool kernel_started = false;  // the kernel began our execute request (its busy status)
    bool taken = false;           // the kernel took the handed-over run (its result is in)
    std::chrono::steady_clock::time_point handed_at;  // sent on the hand-over socket
    bool told_busy = false;       // the client knows the run waits for another request

    // A sharded run over gateway kernels (shard_job.hpp, server_shards.cpp):
    // the client's run leads; its helpers, one per other kernel, have no client.
    bool shard_lead = false;
    std::string shard_of;          // a helper: its lead's id
    nlohmann::json shard_waiting;  // a helper's question held until the lead's ids are in
    protocol::run_spec client_spec;  // a lead's spec as sent (a sync may move spec.cwd to a kernel's tree)
    int syncs = 0;  // tree syncs begun for it (a second after a restart for stale modules is the last)

    // The test process's part (handed-over runs).
    run_pipes pipes;
    utf8_text out_text, err_text;
    bool out_hung_up = false, err_hung_up = false;  // a pty that said EIO: read again once the writer is done
    std::string ctl_buffer;
    std::optional<int> exit_code;  // as the test process reported it
    std::optional<std::chrono::steady_clock::time_point> exit_at;

    // Messages for the client, in order; sent as its connection takes them.
    std::deque<std::vector<std::string>> outbox;
    std::size_t outbox_bytes = 0;
    void queue(std::vector<std::string> frames);
    bool may_read_output() const { return outbox_bytes < max_buffered_output; }

    // The client.
    std::chrono::steady_clock::time_point last_heard = std::chrono::steady_clock::now();
    bool client_here = false;  // on this host: its pid is checked instead of keepalives
    int lost_interrupts = 0;
    std::chrono::steady_clock::time_point lost_at{};

    bool output_open() const { return pipes.out >= 0 || pipes.err >= 0; }
    // The run's outcome is known and its output all read.
    bool complete() const { return !output_open() && pipes.ctl < 0; }

private:
    run_phase phase_ = run_phase::queued;
};

}  // namespace ltest
