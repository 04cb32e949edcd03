#include "status_command.hpp"

#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "clean_text.hpp"
#include "client_connection.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"
#include "reply_reader.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

int show_status(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);
    json s = conn.request(protocol::status_request, protocol::status_reply, seconds(5)).content;
    if (opts.json) {
        std::cout << s.dump() << std::endl;
        return 0;
    }
    std::cout << status_text(s);
    return 0;
}

int stop_server(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);
    conn.request(protocol::shutdown_request, protocol::shutdown_reply, seconds(5));
    // Wait for it to be gone, so that a following `ltest -l` can bind the port.
    for (auto deadline = steady_clock::now() + seconds(15); steady_clock::now() < deadline;) {
        if (!process_alive(server.pid)) {
            std::cerr << "ltest: stopped the server on " << clean_text(server.endpoint()) << "\n";
            return 0;
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
    throw ltest_error(exit_code::no_server, "the server (pid " + std::to_string(server.pid) + ") did not stop in 15 s");
}

}  // namespace ltest
