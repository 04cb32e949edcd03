#pragma once
// Private to kernel_bridge: the one signature scheme both signers accept.
#include <string>

namespace kernel_bridge {

// Throws bad_file unless scheme is "hmac-sha256" or "" (Jupyter's default).
void check_scheme(const std::string& scheme);

}  // namespace kernel_bridge
