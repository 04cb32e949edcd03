#include "gateway_token.hpp"

#include <cstdlib>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/private_file.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

static std::string trimmed(std::string s) {
    auto last = s.find_last_not_of(" \t\r\n");
    s.erase(last == std::string::npos ? 0 : last + 1);
    s.erase(0, s.find_first_not_of(" \t\r\n") == std::string::npos ? s.size() : s.find_first_not_of(" \t\r\n"));
    return s;
}

std::string gateway_token(const options& o) {
    for (const char* name : {"LTEST_GATEWAY_TOKEN", "JUPYTER_GATEWAY_AUTH_TOKEN"})
        if (const char* v = std::getenv(name); v && *v) return trimmed(v);
    if (o.gateway_token_file.empty()) return "";
    try {
        return trimmed(kernel_bridge::read_private_file(o.gateway_token_file));
    } catch (const kernel_bridge::bridge_error& e) {
        throw ltest_error(exit_code::startup, std::string("[tool.ltest] gateway_token_file: ") + e.what());
    }
}

std::optional<gateway_kernel_settings> gateway_settings(const options& o) {
    if (o.gateway.empty()) return std::nullopt;
    return gateway_kernel_settings{o.gateway, gateway_token(o)};
}

}  // namespace ltest
