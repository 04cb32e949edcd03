#include "kernel_bridge/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {

std::string random_hex(std::size_t n) {
    std::vector<unsigned char> bytes(n);
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
        if (r < 0 && errno != EINTR) throw bridge_error(std::string("getrandom: ") + std::strerror(errno));
        if (r > 0) got += static_cast<std::size_t>(r);
    }
    return to_hex(bytes.data(), n);
}

std::string to_hex(const unsigned char* data, std::size_t n) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        out += hex[data[i] >> 4];
        out += hex[data[i] & 15];
    }
    return out;
}

}  // namespace kernel_bridge
