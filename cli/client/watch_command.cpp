// Watch mode: the watcher process runs each test run as a child `ltest`
// (this executable without --watch), so a run is exactly `ltest -- ARGS`:
// same output, input, Ctrl-C handling and exit code. The child shares the
// terminal's process group, so Ctrl-C reaches both: the child interrupts
// its run as usual, the watcher then ends. A change during a run restarts it
// the way a user would: Ctrl-C (the tests are interrupted), a second one 2 s
// later (the test process is killed), SIGKILL 5 s after that.
#include "watch_command.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "debounce.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "project_root.hpp"
#include "server_choice.hpp"
#include "tree_watch.hpp"

namespace ltest {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

std::atomic<int> sigints{0};
void on_sigint(int) { ++sigints; }

constexpr auto quiet_period = milliseconds(100);

struct child_run {
    pid_t pid = -1;
    int pidfd = -1;
    bool running() const { return pid > 0; }
};

int exit_code_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// This command line without --watch, with the server's port when the user
// named none, and --ff (pytest: failed tests first) after a failure.
std::vector<std::string> child_args(int argc, char** argv, const options& o, bool failed_first) {
    std::vector<std::string> args{"/proc/self/exe"};
    bool pytest_part = false, has_split = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (!pytest_part && a == "--") {
            pytest_part = has_split = true;
            args.push_back(a);
            if (failed_first) args.push_back("--ff");
            continue;
        }
        if (!pytest_part && a == "--watch") continue;
        args.push_back(a);
    }
    if (!has_split && failed_first) args.insert(args.end(), {"--", "--ff"});
    if (o.port) args.insert(args.begin() + 1, {"-p", std::to_string(*o.port)});
    return args;
}

child_run start_run(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    child_run run;
    run.pid = ::fork();
    if (run.pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    if (run.pid < 0) throw ltest_error(exit_code::internal, std::string("fork: ") + std::strerror(errno));
    run.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, run.pid, 0));
    return run;
}

// Waits up to `limit` for the run to end; its exit code, or -1 if still running.
int wait_run(child_run& run, milliseconds limit) {
    auto deadline = steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(run.pid, &status, WNOHANG);
        if (r == run.pid) {
            if (run.pidfd >= 0) ::close(run.pidfd);
            run = child_run{};
            return exit_code_of(status);
        }
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
        if (left.count() <= 0) return -1;
        pollfd p{run.pidfd, POLLIN, 0};
        ::poll(&p, run.pidfd >= 0 ? 1 : 0, static_cast<int>(std::min<long>(left.count(), run.pidfd >= 0 ? left.count() : 50)));
    }
}

// True when the first Ctrl-C ended it: pytest then ended its last line (its
// interrupted summary); a run killed later may have left one half written.
bool stop_run(child_run& run) {
    ::kill(run.pid, SIGINT);
    if (wait_run(run, seconds(2)) >= 0) return true;
    ::kill(run.pid, SIGINT);
    if (wait_run(run, seconds(5)) >= 0) return false;
    ::kill(run.pid, SIGKILL);
    wait_run(run, hours(1));
    return false;
}

// The changed paths to name: those still there, when any is. An editor's
// temporary renamed over the file (sed -i's sedXXXXXX, an IDE's safe write)
// is gone by now, and the file it replaced is the user's change.
std::vector<std::string> to_name(const fs::path& root, const std::vector<std::string>& changes) {
    std::vector<std::string> there;
    for (const auto& c : changes) {
        std::error_code ec;
        if (c.front() == '(' || fs::exists(fs::symlink_status(root / c, ec))) there.push_back(c);
    }
    return there.empty() ? changes : there;
}

std::string describe(const std::vector<std::string>& changes) {
    std::string text = changes.front();
    if (changes.size() == 2) text += " and " + changes[1];
    if (changes.size() > 2) text += " and " + std::to_string(changes.size() - 1) + " more";
    return text;
}

struct watch_state {
    const options& opts;
    int argc;
    char** argv;
    child_run run;
    int last_code = -1;

    void start() {
        options o = opts;
        choose_server(o, true);  // the server may have stopped (idle) since the last run
        bool failed_first = last_code == 1;
        for (int i = 1; i < argc; ++i)
            if (std::strstr(argv[i], "no:cacheprovider")) failed_first = false;  // no cache, no --ff
        run = start_run(child_args(argc, argv, o, failed_first));
    }
};

}  // namespace

int watch_and_run(const options& opts, int argc, char** argv) {
    fs::path root = project_root(fs::current_path());
    ignore_rules rules(root);
    tree_watch watch(root, rules);
    // SIGINT stays blocked except inside ppoll: no Ctrl-C slips between a check and the wait.
    sigset_t blocked, during_wait;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    ::sigprocmask(SIG_BLOCK, &blocked, &during_wait);
    sigdelset(&during_wait, SIGINT);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);

    watch_state st{opts, argc, argv, {}, -1};
    debouncer bounce(quiet_period);
    std::vector<std::string> changes;
    st.start();
    for (;;) {
        if (sigints > 0) {
            if (!st.run.running()) return st.last_code < 0 ? exit_code::interrupted : st.last_code;
            ::sigprocmask(SIG_SETMASK, &during_wait, nullptr);  // further Ctrl-C: the child's to handle
            int code = wait_run(st.run, hours(24 * 365));
            return code == 2 ? exit_code::interrupted : code;  // pytest's 2: Ctrl-C interrupted it
        }
        timespec wait{}, *timeout = nullptr;
        if (auto due = bounce.due()) {
            auto left = std::max(nanoseconds(0), duration_cast<nanoseconds>(*due - steady_clock::now()));
            wait.tv_sec = static_cast<time_t>(left.count() / 1000000000);
            wait.tv_nsec = static_cast<long>(left.count() % 1000000000);
            timeout = &wait;
        } else if (st.run.running() && st.run.pidfd < 0) {
            wait.tv_nsec = 50000000;  // no pidfd: look for the child's exit now and then
            timeout = &wait;
        }
        pollfd fds[2] = {{watch.fd(), POLLIN, 0}, {st.run.pidfd, POLLIN, 0}};
        ::ppoll(fds, st.run.running() && st.run.pidfd >= 0 ? 2 : 1, timeout, &during_wait);
        if (st.run.running()) {
            int code = wait_run(st.run, milliseconds(0));
            if (code >= 0) {
                st.last_code = code;
                std::fprintf(stderr, "ltest: waiting for changes under %s (Ctrl-C ends)\n", root.c_str());
            }
        }
        auto now_changes = watch.read_changes();
        if (!now_changes.empty()) {
            for (auto& c : now_changes)
                if (std::find(changes.begin(), changes.end(), c) == changes.end()) changes.push_back(c);
            bounce.change(steady_clock::now());
        }
        if (!bounce.fire(steady_clock::now()) || sigints > 0) continue;
        bool restart = st.run.running();
        // A run is stopped first: its interrupted output ends its line (the
        // progress dots), and the line below is ltest's own.
        bool line_ended = !restart || stop_run(st.run);
        std::fprintf(stderr, "%sltest: %s changed; %s%s\n", line_ended ? "" : "\n",
                     describe(to_name(root, changes)).c_str(), restart ? "restarting the run" : "running the tests again",
                     st.last_code == 1 ? " (failed tests first)" : "");
        changes.clear();
        st.start();
    }
}

}  // namespace ltest
