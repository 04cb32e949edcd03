#include "ip_address.hpp"

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

}  // namespace ltest
