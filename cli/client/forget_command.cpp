#include "forget_command.hpp"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "learned_cache.hpp"
#include "project_root.hpp"

namespace ltest {
namespace fs = std::filesystem;

int forget_learned_preloads(const options&) {
    std::string root = server_root(fs::current_path());
    std::string what = root.empty() ? "directories without a project marker" : root;
    check_cache_dir();  // someone else's files are not ours to read or remove
    fs::path dir = learned_cache_dir();
    int removed = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".json") continue;
        std::ifstream in(e.path());
        auto doc = nlohmann::json::parse(in, nullptr, false);
        if (doc.is_object() && doc.value("project_root", std::string()) == root && fs::remove(e.path(), ec))
            ++removed;
    }
    if (removed == 0)
        std::fprintf(stderr, "ltest: nothing learned for %s\n", what.c_str());
    else
        std::fprintf(stderr, "ltest: forgot the preloads learned for %s; a running server keeps its own until `ltest --stop`\n",
                     what.c_str());
    return 0;
}

}  // namespace ltest
