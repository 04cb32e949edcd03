#pragma once
// wire's frames to and from libzmq's multipart messages (for the kernel's
// channels and the server's ROUTER; the ltest client speaks ZMTP itself).
#include <string>
#include <vector>

#include <zmq_addon.hpp>

namespace kernel_bridge {

inline zmq::multipart_t to_multipart(const std::vector<std::string>& frames) {
    zmq::multipart_t out;
    for (const auto& f : frames) out.addstr(f);
    return out;
}

// Empties `m`.
inline std::vector<std::string> take_frames(zmq::multipart_t& m) {
    std::vector<std::string> out;
    out.reserve(m.size());
    while (!m.empty()) out.push_back(m.popstr());
    return out;
}

}  // namespace kernel_bridge
