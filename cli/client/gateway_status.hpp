#pragma once
// --status' lines for a server whose kernels are a Jupyter Enterprise
// Gateway's: each kernel with its host, preloads, state and runs.
#include <string>

#include <nlohmann/json.hpp>

namespace ltest {

// "" for a server without a gateway.
std::string gateway_kernels_text(const nlohmann::json& status);

}  // namespace ltest
