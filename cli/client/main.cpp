// ltest, the client: parse the command line and dispatch. `-l` hands over to
// ltest-server (exec, same pid), so that a client run loads only what a
// client needs: a static executable without libzmq (zmtp_dealer.hpp), it
// starts in well under a millisecond.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "autostart.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "guarded_main.hpp"
#include "options.hpp"
#include "forget_command.hpp"
#include "run_command.hpp"
#include "server_choice.hpp"
#include "status_command.hpp"
#include "watch_command.hpp"

namespace {

[[noreturn]] void exec_server(char** argv) {
    std::string server = ltest::server_executable(argv[0]);
    ::execv(server.c_str(), argv);
    throw ltest::ltest_error(ltest::exit_code::internal,
                             "cannot run " + server + ": " + std::strerror(errno) + " (is ltest installed whole?)");
}

// A closed stdin, stdout or stderr would be taken by the first file the
// client opens (its server socket read as stdin): /dev/null holds the place,
// so a closed stdin reads as EOF.
void hold_standard_fds() {
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int null_fd = ::open("/dev/null", O_RDWR);
            if (null_fd >= 0 && null_fd != fd) ::close(null_fd);  // taken by a lower free fd: fd is still closed
        }
}

}  // namespace

int main(int argc, char** argv) {
    hold_standard_fds();
    return ltest::guarded_main([&] {
        auto opts = ltest::parse_options(argc, argv);
        if (!opts) return 0;
        if (opts->listen) exec_server(argv);
        // Issue 15: --forget, --watch, and the project's server (started if need be).
        if (opts->forget) return ltest::forget_learned_preloads(*opts);
        if (opts->watch) return ltest::watch_and_run(*opts, argc, argv);
        ltest::choose_server(*opts, !opts->status && !opts->stop);
        if (opts->status) return ltest::show_status(*opts);
        if (opts->stop) return ltest::stop_server(*opts);
        return ltest::run_tests(*opts);
    });
}
