#include "ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace ltest {

std::string canonical_ip(const std::string& ip) {
    if (ip == "localhost") return "127.0.0.1";
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') return ip.substr(1, ip.size() - 2);
    return ip;
}

bool is_ipv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

std::string tcp_endpoint(const std::string& ip, int port) {
    return "tcp://" + (is_ipv6(ip) ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<sockaddr_storage> connect_address(const std::string& ip, int port) {
    std::string host = canonical_ip(ip);
    if (host == "*" || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    sockaddr_storage out{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    } else {
        return std::nullopt;
    }
    return out;
}

}  // namespace ltest
