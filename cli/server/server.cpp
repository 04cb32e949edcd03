// Start, the event loop, stop; `ltest -l`'s entry point.
#include <signal.h>
#include <unistd.h>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/zmq/zmq_frames.hpp>

#include "client_liveness.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "run_output.hpp"
#include "server_core.hpp"
#include "router_limits.hpp"
#include "server.hpp"
#include "stale_server_files.hpp"

namespace ltest {
using namespace std::chrono;

int server::serve() {
    remove_stale_server_files();  // a killed server's files, before this one makes any (stale_server_files.hpp)
    info_.start_time = process_start_time(static_cast<int>(::getpid()));
    bind();               // the port first: a second server on it stops here, touching nothing
    handover_.listen();   // then the hand-over socket file, which is this port's
    first_keeper_.wake_with(wake_.fd());
    gateway_pool_.wake_with(wake_.fd());
    kernel_.start();
    // The pool's kernels start at once, each on a thread of its own; after
    // the first, so that a gateway without room for them all refuses the
    // pool's, never the first (EG's max_kernels is not checked atomically).
    gateway_pool_.start();
    gateway_pool_.wait_started();
    handover_.accept_kernel();
    watch_.watch(kernel_.watched_files());
    info_.kernel_connection_file = kernel_.connection_file().string();
    info_.python = kernel_.python();  // clients pick their project's server by it (server_choice.hpp)
    info_.python_skipped = kernel_.python_skipped();
    write_runtime_file(info_);   // a server that cannot be found at start does not start
    runtime_file_.write(info_);  // from now on kept in place (runtime_file_keeper.hpp)
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

server::~server() {
    std::error_code ec;
    if (wrote_file_) std::filesystem::remove(runtime_file_path(info_.port), ec);
}

void server::bind() {
    if (opts_.ip != "127.0.0.1" && opts_.ip != "localhost" && opts_.ip != "::1")
        log::server().warn("listening on {}: anyone who can reach that address and holds the key in {} can run code as you",
                           opts_.ip, runtime_file_path(info_.port).string());
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::maxmsgsize, protocol::max_message_bytes);
    router_.set(zmq::sockopt::router_mandatory, true);  // a vanished client is an error, not a silent drop
    // Few messages queued per client: output beyond that waits in its run
    // (bounded), and the test process's writes then block.
    router_.set(zmq::sockopt::sndhwm, 32);
    apply_router_limits(router_, info_.ip);  // hostile peers: bounded memory, idle connections closed
    connect_gate::guard(router_);            // and no message read from a peer without the key
    try {
        router_.bind(info_.endpoint());
    } catch (const zmq::error_t& e) {
        throw ltest_error(exit_code::startup, "cannot listen on " + info_.endpoint() + ": " + e.what() +
                                                  " (another server? try -p PORT)");
    }
}

void server::loop_once() {
    std::vector<zmq::pollitem_t> items{{router_.handle(), 0, ZMQ_POLLIN, 0},
                                       {nullptr, watch_.fd(), ZMQ_POLLIN, 0},
                                       {nullptr, handover_.listen_fd(), ZMQ_POLLIN, 0}};
    if (handover_.connected())
        items.push_back({nullptr, handover_.kernel_fd(),
                         static_cast<short>(ZMQ_POLLIN | (handover_.wants_write() ? ZMQ_POLLOUT : 0)), 0});
    for (auto& r : runs_) add_poll_items(r, items);
    if (kernel_ready()) {  // not after a failed restart (warm_kernel::usable), nor during a gateway's
        auto kitems = kernel_.client().poll_items();
        items.insert(items.end(), kitems.begin(), kitems.end());
    }
    for (std::size_t i = 0; i < gateway_pool_.size(); ++i)
        if (gateway_pool_.ready(i)) {
            auto kitems = gateway_pool_.at(i).client().poll_items();
            items.insert(items.end(), kitems.begin(), kitems.end());
        }
    std::size_t wake = items.size();
    items.push_back({nullptr, wake_.fd(), ZMQ_POLLIN, 0});
    bool waiting_to_send = false;
    for (auto& r : runs_) waiting_to_send |= !r.outbox.empty();
    try {
        zmq::poll(items.data(), items.size(), milliseconds(waiting_to_send ? 5 : 100));
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
    }
    if (items[wake].revents & ZMQ_POLLIN) wake_.clear();  // a keeper's thread ended: its tick below collects it
    if (items[2].revents & ZMQ_POLLIN) handover_.accept_kernel();
    if (handover_.connected()) {
        handover_.flush();
        auto reports = handover_.read_reports();
        for (const auto& r : reports.reaped) reaped_[r.pid] = r.exit_code;
        for (const auto& t : reports.taken) on_taken(t);
        if (reports.learned) {
            kernel_.learned_changed(*reports.learned);
            watch_.watch(kernel_.watched_files());  // an upgrade of a module learned since restarts the kernel too
        }
    }
    for (auto& r : runs_) pump(r);
    if (kernel_ready()) drain_kernel(kernel_, 0);
    for (std::size_t i = 0; i < gateway_pool_.size(); ++i)
        if (gateway_pool_.ready(i)) drain_kernel(gateway_pool_.at(i), static_cast<int>(i) + 1);
    // The guard learns of new connections before their first message is read,
    // so a connection's first signed message always takes it off the list.
    guard_.tick();  // and closes connections that did not sign in time
    drain_clients();
    if (gateway_mode())
        first_keeper_.tick([this](const std::string& why) { on_gateway_kernel_death(0, why); },
                           [this] { kernel_restarted(); },
                           [this](const std::string& why) { on_gateway_restart_failed(why); });
    else if (kernel_.usable() && !kernel_.alive())
        on_kernel_death();
    gateway_pool_.keep_warm();
    abandon_handovers();
    if (auto file = watch_.changed(); file && !stale_) stale_ = file;
    runtime_file_.check();  // a removed runtime file is back within a second
    log::flush_dropped();   // the count of junk not logged (log.hpp)
    drop_lost_clients();
    for (auto& r : runs_) finish_if_done(r);
    start_runs();
    deliver();
    bool busy = false;
    for (const auto& r : runs_) busy |= r.phase() != run_phase::answered;
    if (idle_.expired(busy)) {
        log::server().info("idle for {} s; stopping", *idle_.seconds());
        stop_requested = true;
    }
}
namespace {

void on_stop_signal(int) { stop_requested = true; }

}  // namespace

int run_server(const options& opts) {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);  // the terminal closed: stop as cleanly as on Ctrl-C
    ::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();  // held connections must not exhaust a 1024 soft limit (router_limits.hpp)
    zmq::context_t ctx;
    server s(opts, ctx);
    return s.serve();
}

}  // namespace ltest
