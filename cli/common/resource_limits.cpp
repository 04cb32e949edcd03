#include "resource_limits.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

namespace ltest::protocol {
using nlohmann::json;

namespace {

// The limits a test can observe or hit that a shell's ulimit sets.
constexpr std::pair<const char*, int> known[] = {
    {"nofile", RLIMIT_NOFILE}, {"stack", RLIMIT_STACK}, {"core", RLIMIT_CORE},
    {"as", RLIMIT_AS},         {"data", RLIMIT_DATA},   {"cpu", RLIMIT_CPU},
    {"fsize", RLIMIT_FSIZE},   {"nproc", RLIMIT_NPROC}, {"memlock", RLIMIT_MEMLOCK},
};

bool is_known(const std::string& name) {
    for (const auto& [n, _] : known)
        if (name == n) return true;
    return false;
}

json value_to_json(std::uint64_t v) { return v == unlimited ? json("unlimited") : json(v); }

std::uint64_t value_from_json(const json& j, const std::string& name) {
    if (j.is_string() && j.get<std::string>() == "unlimited") return unlimited;
    // Below RLIM_INFINITY: a number that large would read as "unlimited".
    if (j.is_number_unsigned() && j.get<std::uint64_t>() < unlimited) return j.get<std::uint64_t>();
    if (j.is_number_integer() && j.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(j.get<std::int64_t>());
    throw std::invalid_argument("run_request \"rlimits\" entry \"" + name +
                                "\" must hold non-negative integers or \"unlimited\"");
}

}  // namespace

resource_limits read_own_limits() {
    resource_limits out;
    for (const auto& [name, which] : known) {
        rlimit lim{};
        if (::getrlimit(which, &lim) != 0) continue;
        auto value = [](rlim_t v) { return v == RLIM_INFINITY ? unlimited : static_cast<std::uint64_t>(v); };
        out[name] = {value(lim.rlim_cur), value(lim.rlim_max)};
    }
    return out;
}

std::optional<int> read_own_nice() {
    errno = 0;  // -1 is a valid nice value: only errno tells a failure
    int value = ::getpriority(PRIO_PROCESS, 0);
    if (value == -1 && errno != 0) return std::nullopt;
    return value;
}

json limits_to_json(const resource_limits& limits) {
    json j = json::object();
    for (const auto& [name, pair] : limits) j[name] = json::array({value_to_json(pair.soft), value_to_json(pair.hard)});
    return j;
}

resource_limits limits_from_json(const json& j) {
    if (!j.is_object()) throw std::invalid_argument("run_request field \"rlimits\" must be an object");
    resource_limits out;
    for (const auto& [name, pair] : j.items()) {
        if (!is_known(name)) throw std::invalid_argument("run_request \"rlimits\" has an unknown limit \"" + name + "\"");
        if (!pair.is_array() || pair.size() != 2)
            throw std::invalid_argument("run_request \"rlimits\" entry \"" + name + "\" must be [soft, hard]");
        limit_pair p{value_from_json(pair[0], name), value_from_json(pair[1], name)};
        if (p.soft > p.hard)
            throw std::invalid_argument("run_request \"rlimits\" entry \"" + name + "\" has a soft limit above its hard one");
        out[name] = p;
    }
    return out;
}

int nice_from_json(const json& j) {
    if (!j.is_number_integer() || j.get<std::int64_t>() < -20 || j.get<std::int64_t>() > 19)
        throw std::invalid_argument("run_request field \"nice\" must be an integer from -20 to 19");
    return static_cast<int>(j.get<std::int64_t>());
}

}  // namespace ltest::protocol
