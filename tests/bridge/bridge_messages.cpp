// kernel_bridge against a real ipykernel started from Debian's python3
// kernelspec: kernel_info, execute and its output, errors, input, interrupt.

#include "bridge_support.hpp"

using namespace bridge_test;
using clk = std::chrono::steady_clock;

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
