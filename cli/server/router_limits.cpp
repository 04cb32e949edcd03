#include "router_limits.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <kernel_bridge/kernel_process.hpp>

#include "ip_address.hpp"

namespace ltest {

void apply_router_limits(zmq::socket_t& router, const std::string& ip) {
    // Large messages in their own mappings, returned to the system when freed:
    // glibc would otherwise raise its mmap threshold after the first one and
    // keep a flood's freed 15 MiB buffers in the heap (RSS stays at the peak).
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
    router.set(zmq::sockopt::rcvhwm, router_rcvhwm);
    router.set(zmq::sockopt::handshake_ivl, router_handshake_ms);
    router.set(zmq::sockopt::backlog, router_backlog);
    if (is_ipv6(ip)) router.set(zmq::sockopt::ipv6, true);
}

long raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        // Tests see the limit a plain pytest would: kernels get the old one back.
        kernel_bridge::kernel_process::inherited_fd_soft_limit = static_cast<long>(lim.rlim_cur);
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    return static_cast<long>(lim.rlim_cur);
}

}  // namespace ltest
