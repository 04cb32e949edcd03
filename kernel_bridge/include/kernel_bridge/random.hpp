#pragma once
#include <cstddef>
#include <string>

namespace kernel_bridge {

// n bytes from the kernel's CSPRNG (getrandom), as 2n lowercase hex digits.
std::string random_hex(std::size_t n);
// Bytes as lowercase hex digits.
std::string to_hex(const unsigned char* data, std::size_t n);

}  // namespace kernel_bridge
