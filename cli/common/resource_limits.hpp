#pragma once
// The client's resource limits (ulimit) and nice value, sent in a run request
// so that the test process has them as a new interpreter started from the
// client's shell would (share/ltest/ltest/fidelity_limits.py applies them).
// On the wire: "rlimits": {"nofile": [soft, hard], ...} where each value is a
// non-negative integer or "unlimited"; "nice": -20..19. Absent: not sent (an
// older client), the test process keeps the kernel's.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ltest::protocol {

inline constexpr std::uint64_t unlimited = UINT64_MAX;  // RLIM_INFINITY, "unlimited" on the wire

struct limit_pair {
    std::uint64_t soft = unlimited, hard = unlimited;
    friend bool operator==(const limit_pair& a, const limit_pair& b) { return a.soft == b.soft && a.hard == b.hard; }
};
// By lowercase name without RLIMIT_ ("nofile", "stack", ...).
using resource_limits = std::map<std::string, limit_pair>;

// This process's limits, those of limit_names() that it can read.
resource_limits read_own_limits();
// This process's nice value, or nullopt if it cannot be read.
std::optional<int> read_own_nice();

nlohmann::json limits_to_json(const resource_limits& limits);
// Throws std::invalid_argument naming the bad entry.
resource_limits limits_from_json(const nlohmann::json& j);
// Throws std::invalid_argument unless j is an integer in -20..19.
int nice_from_json(const nlohmann::json& j);

}  // namespace ltest::protocol
