// kernel_bridge against a real ipykernel started from Debian's python3
// kernelspec: readiness, execute, errors, input, interrupt, death, heartbeat,
// shutdown, and kernels that cannot start.
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "kernel_bridge/connection_file.hpp"
#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/zmq/heartbeat.hpp"
#include "kernel_bridge/jupyter_paths.hpp"
#include "kernel_bridge/zmq/kernel_client.hpp"
#include "kernel_bridge/kernel_process.hpp"
#include "kernel_bridge/kernelspec.hpp"
#include "kernel_bridge/message.hpp"
#include "test_support.hpp"

using namespace kernel_bridge;
using namespace std::chrono;
using nlohmann::json;
namespace fs = std::filesystem;
using clk = steady_clock;

namespace {

const milliseconds ready_timeout{30000};
const milliseconds execute_timeout{20000};

// Debian's ipykernel spec, found the way the server finds it.
kernelspec python_spec() {
    kernelspec spec = find_kernelspec("python3", jupyter_data_path());
    spec.env["KB_SPEC_VAR"] = "from-spec";
    return spec;
}

kernelspec custom_spec(const std::string& name, std::vector<std::string> argv) {
    kernelspec spec;
    spec.name = name;
    spec.argv = std::move(argv);
    spec.display_name = name;
    return spec;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// One kernel per test, in a private runtime dir; always stopped and reaped,
// whatever the test did, and the temp dir removed.
struct kernel_fixture {
    kb_test::temp_dir dir;
    kb_test::env_guard env;
    zmq::context_t ctx;
    connection_info info;
    fs::path connection_file;
    fs::path log_file;
    std::unique_ptr<kernel_process> proc;
    std::unique_ptr<kernel_client> client;  // after ctx: closed before the context is

    kernel_fixture() : env({{"JUPYTER_RUNTIME_DIR", (dir / "runtime").string()}}), log_file(dir / "kernel.log") {}

    ~kernel_fixture() { shut_down(); }

    void launch(const kernelspec& spec) {
        info = new_connection_info("127.0.0.1", spec.name);
        connection_file = jupyter_runtime_dir() / ("kernel-" + new_id() + ".json");
        write_connection_file(connection_file, info);
        proc = kernel_process::launch(spec, connection_file, log_file, {{"KB_EXTRA_VAR", "from-launch"}});
        client = std::make_unique<kernel_client>(ctx, info);
    }

    std::function<bool()> alive() {
        return [this] { return proc && proc->running(); };
    }

    // Launches the python3 kernel and waits until it answers; returns the kernel_info reply.
    message start() {
        launch(python_spec());
        try {
            return client->wait_for_ready(ready_timeout, alive());
        } catch (const std::exception& e) {
            FAIL("kernel not ready: " << e.what() << "\nkernel log:\n" << proc->log_tail(20));
            throw;
        }
    }

    std::string log() const { return proc ? proc->log_tail(20) : std::string(); }

    void shut_down() noexcept {
        if (!proc) return;
        try {
            if (proc->running()) {
                ::kill(proc->pid(), SIGCONT);  // in case a test left it stopped
                if (client) client->send_control("shutdown_request", json{{"restart", false}});
                proc->stop(milliseconds(2000));
            }
        } catch (...) {
        }
        client.reset();
        proc.reset();  // kills the group if it is somehow still there
    }
};

struct execution {
    message reply;
    std::vector<message> iopub;
    std::string stdout_text() const {
        std::string out;
        for (const auto& m : iopub)
            if (m.msg_type() == "stream" && m.content.value("name", "") == "stdout") out += m.content.value("text", "");
        return out;
    }
    const message* first(const std::string& msg_type) const {
        for (const auto& m : iopub)
            if (m.msg_type() == msg_type) return &m;
        return nullptr;
    }
};

execution run(kernel_fixture& k, const std::string& code, execute_options opts = {},
              std::function<std::string(const message&)> on_input = {}) {
    execution ex;
    execute_handlers h;
    h.on_iopub = [&](const message& m) { ex.iopub.push_back(m); };
    h.on_input = std::move(on_input);
    ex.reply = k.client->execute(code, opts, h, execute_timeout, k.alive());
    return ex;
}

execute_options visible() {
    execute_options o;
    o.silent = false;
    return o;
}

}  // namespace

TEST_CASE("kernel_info reply from a real ipykernel", "[bridge]") {
    kernel_fixture k;
    message reply = k.start();
    INFO("kernel log:\n" << k.log());
    CHECK(k.proc->running());
    CHECK(reply.msg_type() == "kernel_info_reply");
    CHECK(reply.content.value("status", "") == "ok");
    std::string version = reply.content.value("protocol_version", "");
    CHECK_THAT(version, Catch::StartsWith("5."));
    CHECK(reply.content.at("language_info").at("name") == "python");
    CHECK(reply.header.at("session").get<std::string>() != k.client->session());

    // The connection file went to the private runtime dir, owner-only.
    CHECK(k.connection_file.parent_path() == k.dir / "runtime");
    CHECK(kb_test::file_mode(k.connection_file) == 0600u);

    // A request sent by hand is answered on shell with us as parent.
    std::string id = k.client->send_shell("kernel_info_request", json::object());
    std::optional<message> again;
    auto deadline = clk::now() + seconds(10);
    while (!again && clk::now() < deadline) {
        auto items = k.client->poll_items();
        zmq::poll(items.data(), items.size(), milliseconds(100));
        while (auto m = k.client->recv_shell())
            if (m->parent_id() == id) again = std::move(m);
        while (k.client->recv_iopub()) {
        }
    }
    REQUIRE(again);
    CHECK(again->msg_type() == "kernel_info_reply");
    CHECK(again->content.at("language_info").at("name") == "python");
}

TEST_CASE("execute print streams hi on iopub", "[bridge]") {
    kernel_fixture k;
    k.start();
    INFO("kernel log:\n" << k.log());

    execution ex = run(k, "print(\"hi\")", visible());
    CHECK(ex.reply.msg_type() == "execute_reply");
    CHECK(ex.reply.content.value("status", "") == "ok");
    CHECK(ex.stdout_text() == "hi\n");
    // Every iopub message handed over belongs to this request, from busy to idle.
    std::string id = ex.reply.parent_id();
    for (const auto& m : ex.iopub) CHECK(m.parent_id() == id);
    REQUIRE(ex.iopub.size() >= 2);
    CHECK(ex.iopub.front().msg_type() == "status");
    CHECK(ex.iopub.front().content.value("execution_state", "") == "busy");
    CHECK(ex.iopub.back().msg_type() == "status");
    CHECK(ex.iopub.back().content.value("execution_state", "") == "idle");
    REQUIRE(ex.first("execute_input"));
    CHECK(ex.first("execute_input")->content.value("code", "") == "print(\"hi\")");

    // A silent execute (what ltest runs) still streams output.
    execution quiet = run(k, "print(\"quiet\")");
    CHECK(quiet.reply.content.value("status", "") == "ok");
    CHECK(quiet.stdout_text() == "quiet\n");
    CHECK_FALSE(quiet.first("execute_input"));

    // The kernel got the spec's env and the launch's extra env.
    execution env = run(k, "import os; print(os.environ[\"KB_SPEC_VAR\"], os.environ[\"KB_EXTRA_VAR\"])");
    CHECK(env.stdout_text() == "from-spec from-launch\n");
}

TEST_CASE("execute 1/0 gives an error reply and an iopub error", "[bridge]") {
    kernel_fixture k;
    k.start();
    INFO("kernel log:\n" << k.log());

    execution ex = run(k, "1/0", visible());
    CHECK(ex.reply.content.value("status", "") == "error");
    CHECK(ex.reply.content.value("ename", "") == "ZeroDivisionError");
    const message* err = ex.first("error");
    REQUIRE(err);
    CHECK(err->content.value("ename", "") == "ZeroDivisionError");
    CHECK(err->parent_id() == ex.reply.parent_id());

    // The kernel carries on after an error.
    execution after = run(k, "print(6*7)", visible());
    CHECK(after.reply.content.value("status", "") == "ok");
    CHECK(after.stdout_text() == "42\n");
}

TEST_CASE("input is answered through on_input", "[bridge]") {
    kernel_fixture k;
    k.start();
    INFO("kernel log:\n" << k.log());

    execute_options o = visible();
    o.allow_stdin = true;
    std::vector<std::string> prompts;
    execution ex = run(k, "x = input(\"q? \")\nprint(\"got \" + x)", o, [&](const message& req) {
        CHECK(req.msg_type() == "input_request");
        prompts.push_back(req.content.value("prompt", ""));
        return std::string("forty-two");
    });
    CHECK(ex.reply.content.value("status", "") == "ok");
    CHECK(prompts == std::vector<std::string>{"q? "});
    CHECK_THAT(ex.stdout_text(), Catch::EndsWith("got forty-two\n"));
}

TEST_CASE("SIGINT interrupts a long sleep", "[bridge]") {
    kernel_fixture k;
    k.start();
    INFO("kernel log:\n" << k.log());

    std::string id = k.client->send_execute("import time; time.sleep(60)", visible());
    auto started = clk::now();
    std::optional<clk::time_point> busy_at, signalled_at;
    std::optional<message> reply;
    std::vector<message> iopub;
    bool idle = false;
    while (!(reply && idle) && clk::now() - started < seconds(40)) {
        auto items = k.client->poll_items();
        zmq::poll(items.data(), items.size(), milliseconds(50));
        while (auto m = k.client->recv_shell())
            if (m->parent_id() == id && m->msg_type() == "execute_reply") reply = std::move(m);
        while (auto m = k.client->recv_iopub()) {
            if (m->parent_id() != id) continue;
            std::string state = m->msg_type() == "status" ? m->content.value("execution_state", "") : "";
            if (state == "busy") busy_at = clk::now();
            if (state == "idle") idle = true;
            iopub.push_back(*m);
        }
        // ~0.5 s after the kernel said it started on our request.
        if (busy_at && !signalled_at && clk::now() - *busy_at > milliseconds(500)) {
            k.proc->signal(SIGINT);
            signalled_at = clk::now();
        }
    }
    REQUIRE(signalled_at);
    REQUIRE(reply);
    auto took = duration_cast<milliseconds>(clk::now() - *signalled_at);
    INFO("reply " << took.count() << " ms after SIGINT");
    CHECK(took < seconds(15));  // the sleep was 60 s: it really was interrupted
    CHECK(reply->content.value("status", "") == "error");
    CHECK(reply->content.value("ename", "") == "KeyboardInterrupt");
    CHECK(idle);
    CHECK(k.proc->running());  // an interrupt is not a death

    execution after = run(k, "print(\"still here\")", visible());
    CHECK(after.stdout_text() == "still here\n");
}

TEST_CASE("kill -9 is seen by running and exit_description", "[bridge]") {
    kernel_fixture k;
    k.start();
    pid_t pid = k.proc->pid();
    REQUIRE(::kill(pid, SIGKILL) == 0);

    auto deadline = clk::now() + seconds(10);
    while (k.proc->running() && clk::now() < deadline) std::this_thread::sleep_for(milliseconds(20));
    CHECK_FALSE(k.proc->running());
    CHECK_THAT(k.proc->exit_description(), Catch::Contains("signal 9"));
    CHECK_FALSE(process_exists(pid));  // reaped, not a zombie

    // A blocking execute against the dead kernel reports the death, not a timeout.
    auto t0 = clk::now();
    CHECK_THROWS_AS(k.client->execute("print(1)", visible(), {}, seconds(30), k.alive()), kernel_died);
    CHECK(clk::now() - t0 < seconds(10));
}

TEST_CASE("heartbeat goes dead when the kernel stops answering", "[bridge]") {
    // A kernel we do not own: only the heartbeat can tell it is gone. Stopping
    // the process (SIGSTOP) silences it without an exit we could reap.
    kernel_fixture k;
    k.start();
    heartbeat& hb = k.client->beat();

    auto tick_for = [&](milliseconds how_long, const std::function<bool()>& until) {
        auto end = clk::now() + how_long;
        while (clk::now() < end) {
            hb.tick();
            if (until && until()) return true;
            std::this_thread::sleep_for(milliseconds(20));
        }
        return false;
    };

    tick_for(milliseconds(1200), {});
    CHECK_FALSE(hb.dead());

    REQUIRE(::kill(k.proc->pid(), SIGSTOP) == 0);
    auto stopped = clk::now();
    bool died = tick_for(milliseconds(5000), [&] { return hb.dead(); });
    INFO("dead after " << duration_cast<milliseconds>(clk::now() - stopped).count() << " ms");
    CHECK(died);
    CHECK(hb.dead());
    CHECK(k.proc->running());  // stopped, not exited: waitpid cannot tell

    SECTION("and alive again once the kernel answers") {
        REQUIRE(::kill(k.proc->pid(), SIGCONT) == 0);
        CHECK(tick_for(milliseconds(8000), [&] { return !hb.dead(); }));
    }
}

TEST_CASE("heartbeat to an endpoint nobody answers goes dead", "[bridge]") {
    zmq::context_t ctx;
    int port = pick_free_port("127.0.0.1");
    heartbeat hb(ctx, "tcp://127.0.0.1:" + std::to_string(port), milliseconds(100), milliseconds(300));
    auto end = clk::now() + seconds(3);
    while (!hb.dead() && clk::now() < end) {
        hb.tick();
        std::this_thread::sleep_for(milliseconds(10));
    }
    CHECK(hb.dead());
}

TEST_CASE("shutdown_request then stop leaves no process", "[bridge]") {
    kernel_fixture k;
    k.start();
    pid_t pid = k.proc->pid();

    k.client->send_control("shutdown_request", json{{"restart", false}});
    k.proc->stop(milliseconds(2000));

    CHECK_FALSE(k.proc->running());
    errno = 0;
    CHECK(::kill(pid, 0) == -1);
    CHECK(errno == ESRCH);
    INFO("kernel log:\n" << k.log());
    // It left on its own after the request: no SIGTERM needed.
    CHECK(k.proc->exit_description() == "exited with code 0");
}

TEST_CASE("stop escalates to SIGTERM when the kernel does not leave", "[bridge]") {
    kernel_fixture k;
    k.start();
    pid_t pid = k.proc->pid();
    auto t0 = clk::now();
    k.proc->stop(milliseconds(200));  // no shutdown_request: the grace runs out
    CHECK(clk::now() - t0 < seconds(8));
    CHECK_FALSE(k.proc->running());
    CHECK_THAT(k.proc->exit_description(), Catch::Contains("signal"));
    errno = 0;
    CHECK(::kill(pid, 0) == -1);
    CHECK(errno == ESRCH);
}

TEST_CASE("launch of a nonexistent binary throws no_such_kernel", "[bridge]") {
    kernel_fixture k;
    kernelspec spec = custom_spec("ghost", {"/nonexistent/kb-no-such-kernel", "-f", "{connection_file}"});
    kb_test::require_throws_containing<no_such_kernel>([&] { k.launch(spec); },
                                                       {"/nonexistent/kb-no-such-kernel", "ghost"});
    CHECK_FALSE(k.proc);
}

TEST_CASE("a kernel that exits at once makes wait_for_ready throw kernel_died", "[bridge]") {
    kernel_fixture k;
    k.launch(custom_spec("quitter", {"/usr/bin/python3", "-c", "import sys; sys.exit(3)"}));
    auto t0 = clk::now();
    CHECK_THROWS_AS(k.client->wait_for_ready(ready_timeout, k.alive()), kernel_died);
    auto took = clk::now() - t0;
    INFO("took " << duration_cast<milliseconds>(took).count() << " ms");
    CHECK(took < seconds(10));  // noticed the exit, did not wait for the 30 s timeout
    CHECK(k.proc->exit_description() == "exited with code 3");
}

TEST_CASE("a kernel that never answers makes wait_for_ready time out", "[bridge]") {
    kernel_fixture k;
    k.launch(custom_spec("mute", {"/usr/bin/python3", "-c", "import time; time.sleep(60)"}));
    auto t0 = clk::now();
    CHECK_THROWS_AS(k.client->wait_for_ready(milliseconds(1000), k.alive()), timeout_error);
    CHECK(clk::now() - t0 < seconds(10));
    CHECK(k.proc->running());
}
