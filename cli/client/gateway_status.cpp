#include "gateway_status.hpp"

#include "clean_text.hpp"

namespace ltest {
using nlohmann::json;

static std::string str(const json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? clean_text(it->get<std::string>()) : std::string("?");
}

std::string gateway_kernels_text(const json& s) {
    auto list = s.find("gateway_kernels");
    if (list == s.end() || !list->is_array() || list->empty()) return "";
    std::string out = "gateway:         " + str(list->front(), "url") + ", " + std::to_string(list->size()) + " kernel" +
                      (list->size() == 1 ? "" : "s") + "\n";
    for (const auto& k : *list) {
        if (!k.is_object()) continue;
        std::string preloaded;
        for (const auto& p : k.value("preloaded", json::array()))
            if (p.is_object()) preloaded += (preloaded.empty() ? "" : " ") + str(p, "module");
        int runs = k.value("runs", 0);
        out += "  " + str(k, "kernel_id") + " on " + str(k, "host") + ": " + str(k, "state") + ", preloaded: " +
               (preloaded.empty() ? std::string("none") : preloaded) + ", " + std::to_string(runs) + " run" +
               (runs == 1 ? "" : "s") + "\n";
        if (k.contains("error") && k["error"].is_string()) out += "    error: " + clean_text(k["error"].get<std::string>()) + "\n";
    }
    return out;
}

}  // namespace ltest
