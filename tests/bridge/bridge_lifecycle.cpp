// kernel_bridge against a real ipykernel: a killed kernel seen, heartbeat,
// shutdown and its escalation, and kernels that cannot start or never answer.

#include "bridge_support.hpp"

using namespace bridge_test;
using clk = std::chrono::steady_clock;

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
