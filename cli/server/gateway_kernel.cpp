// warm_kernel's kernels from a Jupyter Enterprise Gateway: started over its
// REST API, reached through a channel_bridge (its websocket offered as local
// ZeroMQ channels), so the rest of warm_kernel and the server treat it as a
// kernel on another host: runs relayed through its messages, one at a time.
#include <pwd.h>
#include <unistd.h>

#include <kernel_bridge/gateway/channel_bridge.hpp>
#include <kernel_bridge/gateway/gateway_rest.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "warm_kernel.hpp"

namespace ltest {
namespace gw = kernel_bridge::gateway;
using nlohmann::json;

void warm_kernel::launch_gateway() {
    const gateway_kernel_settings& g = *settings_.gateway;
    try {
        gw::endpoint ep = gw::parse_url(g.url);
        if (!rest_) rest_ = std::make_unique<gw::rest_client>(ep, g.token);
        std::string name = settings_.kernel_name;
        if (name.empty()) {  // the gateway's default kernelspec
            json specs = rest_->kernelspecs();
            name = specs.is_object() ? specs.value("default", std::string()) : std::string();
            if (name.empty()) throw gw::gateway_error("the gateway at " + ep.url() + " names no default kernelspec; give --kernel NAME");
        }
        // As jupyter_server's gateway client does: the gateway's per-user
        // limits and impersonation go by KERNEL_USERNAME.
        std::map<std::string, std::string> env;
        if (const passwd* pw = ::getpwuid(::getuid())) env["KERNEL_USERNAME"] = pw->pw_name;
        json model = rest_->start_kernel(name, env);
        gateway_kernel_id_ = model["id"].get<std::string>();
        log::kernel().info("gateway {} started kernel {} ('{}')", ep.url(), gateway_kernel_id_, name);
        try {
            bridge_ = std::make_unique<gw::channel_bridge>(ctx_, ep, g.token, gateway_kernel_id_);
        } catch (...) {
            stop_gateway();  // not left running on the gateway
            throw;
        }
        info_ = bridge_->info();
        client_ = std::make_unique<kernel_bridge::kernel_client>(ctx_, info_);
    } catch (const gw::gateway_error& e) {
        throw ltest_error(exit_code::startup, e.what());
    }
}

void warm_kernel::stop_gateway() {
    client_.reset();
    bridge_.reset();
    if (rest_ && !gateway_kernel_id_.empty()) {
        try {
            rest_->delete_kernel(gateway_kernel_id_);
            log::kernel().info("gateway kernel {} shut down", gateway_kernel_id_);
        } catch (const gw::gateway_error& e) {
            log::kernel().warn("could not shut down gateway kernel {}: {}", gateway_kernel_id_, e.what());
        }
    }
    gateway_kernel_id_.clear();
}

void warm_kernel::interrupt_gateway() {
    // The gateway knows how to interrupt its kernel (a signal on its host,
    // or a message): asked over REST, as JupyterLab asks.
    if (!rest_ || gateway_kernel_id_.empty()) return;
    try {
        rest_->interrupt_kernel(gateway_kernel_id_);
    } catch (const gw::gateway_error& e) {
        log::kernel().warn("could not interrupt gateway kernel {}: {}", gateway_kernel_id_, e.what());
    }
}

std::string warm_kernel::ask_host() {
    // The kernel's own answer: a gateway's kernel model does not say where it runs.
    kernel_bridge::execute_options opts;
    opts.user_expressions = json{{"host", "__import__('socket').gethostname()"}};
    kernel_bridge::message reply =
        client_->execute("", opts, {}, std::chrono::seconds(60), [this] { return alive_unless_cancelled(); });
    std::string host;
    try {
        host = reply.content["user_expressions"]["host"]["data"]["text/plain"].get<std::string>();
    } catch (const json::exception&) {
        return "?";
    }
    if (host.size() >= 2 && (host.front() == '\'' || host.front() == '"')) host = host.substr(1, host.size() - 2);
    return host;
}

}  // namespace ltest
