#pragma once
// What the kernel_bridge tests share: Debian's python3 kernelspec, a
// kernel per test that is always stopped and reaped, and an execute that
// collects what iopub sent.
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


namespace bridge_test {
using namespace kernel_bridge;
using namespace std::chrono;
using nlohmann::json;
namespace fs = std::filesystem;


inline const milliseconds ready_timeout{30000};
inline const milliseconds execute_timeout{20000};

// Debian's ipykernel spec, found the way the server finds it.
inline kernelspec python_spec() {
    kernelspec spec = find_kernelspec("python3", jupyter_data_path());
    spec.env["KB_SPEC_VAR"] = "from-spec";
    return spec;
}

inline kernelspec custom_spec(const std::string& name, std::vector<std::string> argv) {
    kernelspec spec;
    spec.name = name;
    spec.argv = std::move(argv);
    spec.display_name = name;
    return spec;
}

inline bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

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

inline execution run(kernel_fixture& k, const std::string& code, execute_options opts = {},
              std::function<std::string(const message&)> on_input = {}) {
    execution ex;
    execute_handlers h;
    h.on_iopub = [&](const message& m) { ex.iopub.push_back(m); };
    h.on_input = std::move(on_input);
    ex.reply = k.client->execute(code, opts, h, execute_timeout, k.alive());
    return ex;
}

inline execute_options visible() {
    execute_options o;
    o.silent = false;
    return o;
}

}  // namespace bridge_test
