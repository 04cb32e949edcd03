#pragma once
// The server's kernel: started from a kernelspec (owned) or attached by
// connection file, with ltest's runtime loaded and the user's modules preloaded.
#include <chrono>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <kernel_bridge/connection_file.hpp>
#include <kernel_bridge/zmq/kernel_client.hpp>
#include <kernel_bridge/kernel_process.hpp>
#include <kernel_bridge/kernelspec.hpp>

#include "python_choice.hpp"

namespace kernel_bridge::gateway {
class rest_client;
class channel_bridge;
}  // namespace kernel_bridge::gateway

namespace ltest {

// A kernel a Jupyter Enterprise Gateway starts for us (gateway_kernel.cpp).
struct gateway_kernel_settings {
    std::string url;    // http://HOST:PORT[/base]
    std::string token;  // gateway_token.hpp; never logged
};

struct kernel_settings {
    std::string kernel_name;              // a kernelspec; "": `python -m ipykernel_launcher` on `python`'s choice
    std::optional<std::string> existing;  // attach instead of launching
    std::vector<std::string> modules;     // to preload
    std::string ip = "127.0.0.1";         // where an owned kernel listens
    std::function<bool()> cancelled;      // true: stop starting (Ctrl-C during warm-up)
    std::string handover_path;            // the server's hand-over socket (handover_socket.hpp)
    nlohmann::json learn;                 // learned preloads' settings (null: none)
    // The interpreter rule's answer (python_choice.hpp): the kernel's Python, or
    // with a kernelspec the sys.prefix its search adds. nullopt: attached.
    std::optional<python_choice> python;
    std::filesystem::path project_root;   // for the install command a missing package gets
    std::string handover_token;           // what the kernel says first on the hand-over socket
    std::optional<gateway_kernel_settings> gateway;  // ask a gateway for the kernel (kernel_name: its kernelspec)
};

class warm_kernel {
public:
    warm_kernel(zmq::context_t& ctx, kernel_settings settings);
    ~warm_kernel();
    warm_kernel(const warm_kernel&) = delete;
    warm_kernel& operator=(const warm_kernel&) = delete;

    // Launch or attach, wait until ready, load the runtime, preload. Throws
    // ltest_error(startup) with the reason; an owned kernel is stopped first.
    void start();
    // Owned: shutdown_request, then signals; connection file removed. Attached: detach.
    void stop();
    // After the kernel died: start again (owned), or wait for it to return (attached).
    // On failure the kernel is stopped, failure() says why, and it throws.
    void restart();
    // False after a failed restart (until one works): client() must not be used.
    bool usable() const { return client_ && failure_.empty(); }
    // Why the last restart failed ("preload failed: SyntaxError: ..."), "" if it did not.
    const std::string& failure() const { return failure_; }
    // Cheap liveness check for the event loop (process exit or heartbeat).
    bool alive();
    void interrupt();

    kernel_bridge::kernel_client& client() { return *client_; }
    bool owned() const { return spec_.has_value(); }
    const std::filesystem::path& connection_file() const { return connection_file_; }
    std::string death_reason();
    // The preloaded modules' own source files (outside the interpreter's prefix).
    const std::vector<std::string>& watched_files() const { return watched_files_; }
    nlohmann::json status() const;
    // The interpreter a kernel without a kernelspec runs on ("" with one), and
    // the python3s on PATH skipped for it (no pytest): the runtime file's.
    const std::string& python() const { return python_; }
    const std::vector<std::string>& python_skipped() const { return python_skipped_; }
    // The kernel learned modules from the runs, or imported some of them
    // while idle (handover_socket's "learned" report): status and watched
    // files follow.
    void learned_changed(const nlohmann::json& report);
    // Runs are handed over (the kernel took the hand-over socket: same host);
    // else relayed through the kernel's own messages.
    bool hands_over() const { return hands_over_; }
    // A gateway's kernel: its id there ("" otherwise) and the host it runs on.
    const std::string& gateway_kernel_id() const { return gateway_kernel_id_; }
    const kernel_settings& settings() const { return settings_; }

private:
    void launch();
    void launch_and_warm_up();  // launch(), warm_up(); again with new ports if one was taken meanwhile
    // gateway_kernel.cpp: start one on the gateway and open its channels; stop it there.
    void launch_gateway();
    void stop_gateway();
    void interrupt_gateway();
    std::string ask_host();
    void attach();
    void warm_up();
    nlohmann::json run_startup_code(const std::string& what, const std::string& code);
    // alive(), but a cancelled start-up throws: used while waiting on the kernel.
    bool alive_unless_cancelled();

    zmq::context_t& ctx_;
    kernel_settings settings_;
    std::optional<kernel_bridge::kernelspec> spec_;
    std::string python_, python_version_;
    std::vector<std::string> python_skipped_;
    kernel_bridge::connection_info info_;
    std::filesystem::path connection_file_;
    std::unique_ptr<kernel_bridge::kernel_process> process_;
    std::unique_ptr<kernel_bridge::kernel_client> client_;
    nlohmann::json preloaded_ = nlohmann::json::array();  // at warm-up
    nlohmann::json preloaded_idle_ = nlohmann::json::array();  // learned, imported while idle since
    nlohmann::json learned_;  // the runtime's learned.status() at warm-up
    nlohmann::json speedups_off_ = nlohmann::json::array();  // [{speedup, why}]: private_api's failed probes
    std::vector<std::string> watched_files_;
    bool hands_over_ = false;
    int restarts_ = 0;
    std::string failure_;
    std::chrono::system_clock::time_point started_{};
    std::unique_ptr<kernel_bridge::gateway::rest_client> rest_;
    std::unique_ptr<kernel_bridge::gateway::channel_bridge> bridge_;
    std::string gateway_kernel_id_, host_;
};

// The Python code that loads ltest's runtime (the sources under share_dir,
// sent along) into the kernel without touching the user's namespace or sys.path.
std::string runtime_loader_code(const std::filesystem::path& share_dir);
// `__import__('ltest').FUNC(json.loads(<arg as JSON>))`: a call that binds no names.
std::string runtime_call_code(const std::string& func, const nlohmann::json& arg);
// The application/json value of user_expressions["ltest"] in an execute_reply.
std::optional<nlohmann::json> runtime_result(const nlohmann::json& execute_reply_content);
// user_expressions that fetch the runtime's last result.
nlohmann::json runtime_result_expression();

}  // namespace ltest
