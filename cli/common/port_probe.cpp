#include "port_probe.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ip_address.hpp"

namespace ltest {

bool port_answers(const std::string& ip, int port, std::chrono::milliseconds timeout) {
    auto address = connect_address(ip, port);
    if (!address) return false;
    socklen_t length = address->ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    int fd = ::socket(address->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&*address), length) == 0;
    if (!ok && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
             ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
    return ok;
}

}  // namespace ltest
