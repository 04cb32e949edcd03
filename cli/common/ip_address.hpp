#pragma once
// The --ip address as client and server use it.
#include <sys/socket.h>

#include <optional>
#include <string>

namespace ltest {

// "localhost" is 127.0.0.1 (the static client does no name lookup, and
// libzmq would take the name for a network interface), "[::1]" is ::1;
// anything else is left as given.
std::string canonical_ip(const std::string& ip);
// True for an IPv6 address (the server's ZeroMQ socket must then enable IPv6).
bool is_ipv6(const std::string& ip);
// "tcp://HOST:PORT", an IPv6 HOST in brackets.
std::string tcp_endpoint(const std::string& ip, int port);
// Where a client connects to reach a server at `ip` (from its runtime file or
// --ip): a numeric IPv4 or IPv6 address, or what a server binds to for
// "everywhere" (then reached on loopback). nullopt for anything else.
std::optional<sockaddr_storage> connect_address(const std::string& ip, int port);

}  // namespace ltest
