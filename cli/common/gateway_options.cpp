#include "gateway_options.hpp"

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

void add_gateway_options(CLI::App& app, options& o) {
    app.add_option_function<std::string>(
           "--gateway",
           [&](const std::string& v) {
               if (v.empty()) throw CLI::ValidationError("--gateway", "expects the gateway's URL, http://HOST:PORT");
               o.gateway = v;
               o.gateway_flags = true;
           },
           "Ask this Jupyter Enterprise Gateway for the kernels (http://HOST:PORT; its token from "
           "LTEST_GATEWAY_TOKEN, JUPYTER_GATEWAY_AUTH_TOKEN or [tool.ltest] gateway_token_file)")
        ->type_name("URL");
    app.add_option_function<int>(
           "--gateway-kernels",
           [&](int k) {
               if (k < 1 || k > 1024) throw CLI::ValidationError("--gateway-kernels", "expects 1 to 1024 kernels");
               o.gateway_kernels = k;
               o.gateway_flags = true;
           },
           "How many kernels of the project's kernelspec to keep warm on the gateway (default 1)")
        ->type_name("K");
}

void apply_gateway_config(options& o, const CLI::App& app, const project_config& config) {
    if (config.gateway && app.count("--gateway") == 0) o.gateway = *config.gateway;
    if (config.gateway_kernels && app.count("--gateway-kernels") == 0) o.gateway_kernels = *config.gateway_kernels;
    if (config.workers_per_kernel) o.workers_per_kernel = *config.workers_per_kernel;
    if (config.gateway_sync) o.gateway_sync = *config.gateway_sync;
    if (config.gateway_token_file) {
        const std::string& f = *config.gateway_token_file;
        o.gateway_token_file = f.front() == '/' ? f : (config.file.parent_path() / f).lexically_normal().string();
    }
}

void check_gateway_options(const options& o) {
    if (o.gateway_flags && !o.listen)
        throw ltest_error(exit_code::usage, "--gateway and --gateway-kernels start a server: ltest -l --gateway URL");
    if (o.gateway_flags && o.gateway.empty())
        throw ltest_error(exit_code::usage, "--gateway-kernels needs a gateway: --gateway URL or [tool.ltest] gateway");
    if (!o.gateway.empty() && o.existing)
        throw ltest_error(exit_code::usage, "--gateway and --existing both say where the kernel is: give one");
}

}  // namespace ltest
