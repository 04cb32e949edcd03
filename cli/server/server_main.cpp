// ltest-server: `ltest -l ...` execs it with the same arguments. It parses
// them again (one parser for both) and runs the server.
#include <zmq.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "guarded_main.hpp"
#include "learned_cache.hpp"
#include "log.hpp"
#include "options.hpp"
#include "server.hpp"
#include "server_files.hpp"

int main(int argc, char** argv) {
    return ltest::guarded_main([&] {
        auto opts = ltest::parse_options(argc, argv);
        if (!opts) return 0;
        if (!opts->listen) throw ltest::ltest_error(ltest::exit_code::usage, "ltest-server serves: run it as `ltest -l ...`");
        ltest::log::setup(opts->verbosity);
        ltest::check_cache_dir();  // what is learned there decides what the kernel imports
        try {
            int code = ltest::run_server(*opts);
            ltest::remove_autostart_files(*opts);  // a clean stop leaves no files
            return code;
        } catch (const zmq::error_t& e) {  // the client has no libzmq: guarded_main does not know this one
            throw ltest::ltest_error(ltest::exit_code::internal, std::string("ZeroMQ error: ") + e.what());
        }
    });
}
