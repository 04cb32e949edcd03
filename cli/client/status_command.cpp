#include "status_command.hpp"

#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "client_connection.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

static std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// Issue 15: what the test runs taught, and what went wrong keeping it.
static void print_learned(const json& learned) {
    if (!learned.is_object()) return;
    std::cout << "learned:        ";
    for (const auto& m : learned.value("modules", json::array()))
        std::cout << " " << m.value("module", "?") << " (" << seconds_text(m.value("seconds", 0.0))
                  << (m.contains("failed") ? ", failed" : m.contains("fork_unsafe") ? ", fork-unsafe" : "") << ")";
    std::cout << (learned.value("modules", json::array()).empty() ? " nothing yet" : "") << "\n";
    if (learned.contains("file") && learned["file"].is_string())
        std::cout << "learned file:    " << learned["file"].get<std::string>() << "\n";
    for (const auto& w : learned.value("warnings", json::array())) std::cout << "warning:         " << w.get<std::string>() << "\n";
}

int show_status(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);
    json s = conn.request(protocol::status_request, protocol::status_reply, seconds(5)).content;
    if (opts.json) {
        std::cout << s.dump() << std::endl;
        return 0;
    }
    std::cout << "server:          " << s.value("address", "?") << " (pid " << s.value("server_pid", 0) << ", ltest "
              << s.value("version", "?") << ")\n"
              << "kernel:          " << s.value("kernel_name", "?");
    if (s.contains("kernel_pid")) std::cout << " (pid " << s["kernel_pid"].get<int>() << ")";
    std::cout << (s.value("owned", true) ? "" : " attached") << "\n"
              << "connection file: " << s.value("connection_file", "") << "\n"
              << "preloaded:      ";
    for (const auto& p : s.value("preloaded", json::array())) {
        std::string source = p.value("source", "");  // issue 15: configured, learned or pytest
        std::cout << " " << p.value("module", "?") << " (" << seconds_text(p.value("seconds", 0.0))
                  << (source.empty() ? "" : ", " + source) << ")";
    }
    std::cout << "\n";
    print_learned(s.value("learned", json()));
    if (s.contains("project_root")) std::cout << "project root:    " << s.value("project_root", "") << "\n";
    if (s.contains("idle_timeout"))
        std::cout << "idle stop:       "
                  << (s["idle_timeout"].is_number() ? "after " + seconds_text(s["idle_timeout"].get<double>()) : "never")
                  << "\n";
    std::cout
              << "uptime:          " << seconds_text(s.value("server_uptime", 0.0)) << "\n"
              << "runs served:     " << s.value("runs", 0) << "\n"
              << "restarts:        " << s.value("restarts", 0) << "\n"
              << "run in flight:   " << (s.value("run_in_flight", false) ? "yes" : "no") << ", queued: "
              << s.value("queued", 0) << "\n"
              << "fork-safe:       ";
    json why = s.value("fork_unsafe", json::array());
    if (why.empty()) {
        std::cout << "yes\n";
    } else {
        std::cout << "no (";
        for (std::size_t i = 0; i < why.size(); ++i) std::cout << (i ? "; " : "") << why[i].get<std::string>();
        std::cout << ")\n";
    }
    return 0;
}

int stop_server(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);
    conn.request(protocol::shutdown_request, protocol::shutdown_reply, seconds(5));
    // Wait for it to be gone, so that a following `ltest -l` can bind the port.
    for (auto deadline = steady_clock::now() + seconds(15); steady_clock::now() < deadline;) {
        if (!process_alive(server.pid)) {
            std::cerr << "ltest: stopped the server on " << server.endpoint() << "\n";
            return 0;
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
    throw ltest_error(exit_code::no_server, "the server (pid " + std::to_string(server.pid) + ") did not stop in 15 s");
}

}  // namespace ltest
