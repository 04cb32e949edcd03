// ltest: parse the command line and dispatch. Every failure ends here as one
// line on stderr and a documented exit code.
#include <iostream>

#include <kernel_bridge/errors.hpp>
#include <zmq.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "options.hpp"
#include "run_command.hpp"
#include "server.hpp"
#include "status_command.hpp"

int main(int argc, char** argv) {
    try {
        auto opts = ltest::parse_options(argc, argv);
        if (!opts) return 0;
        ltest::log::setup(opts->verbosity);
        if (opts->listen) return ltest::run_server(*opts);
        if (opts->status) return ltest::show_status(*opts);
        if (opts->stop) return ltest::stop_server(*opts);
        return ltest::run_tests(*opts);
    } catch (const ltest::ltest_error& e) {
        std::cerr << "ltest: " << e.what() << "\n";
        return e.exit_code;
    } catch (const kernel_bridge::bridge_error& e) {
        std::cerr << "ltest: " << e.what() << "\n";
        return ltest::exit_code::startup;
    } catch (const zmq::error_t& e) {
        std::cerr << "ltest: ZeroMQ error: " << e.what() << "\n";
        return ltest::exit_code::internal;
    } catch (const std::exception& e) {
        std::cerr << "ltest: internal error: " << e.what() << "\n";
        return ltest::exit_code::internal;
    }
}
