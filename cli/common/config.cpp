#include "config.hpp"

#include <cmath>
#include <toml++/toml.h>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
namespace fs = std::filesystem;

static std::string where(const fs::path& file, const toml::node& node) {
    return file.string() + ":" + std::to_string(node.source().begin.line);
}

static std::optional<project_config> parse(const fs::path& file) {
    toml::table doc;
    try {
        doc = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        throw ltest_error(exit_code::usage, file.string() + ":" + std::to_string(e.source().begin.line) +
                                                ": not valid TOML: " + std::string(e.description()));
    }
    const toml::table* tool = doc["tool"]["ltest"].as_table();
    if (!tool) return std::nullopt;
    project_config c;
    c.file = file;
    for (const auto& [key, node] : *tool) {
        std::string k(key.str());
        auto bad_type = [&](const char* want) {
            return ltest_error(exit_code::usage, where(file, node) + ": [tool.ltest] " + k + " must be " + want);
        };
        auto names = [&] {
            const toml::array* arr = node.as_array();
            if (!arr) throw bad_type("an array of module names");
            std::vector<std::string> mods;
            for (const auto& item : *arr) {
                auto s = item.value<std::string>();
                if (!s || s->empty()) throw bad_type("an array of module names");
                mods.push_back(*s);
            }
            return mods;
        };
        if (k == "preload") {
            c.preload = names();
        } else if (k == "exclude") {
            c.exclude = names();
        } else if (k == "autostart" || k == "delegate") {
            // delegate: read by the pytest plugin ltest.delegate (a plain pytest run goes to the warm server)
            if (!node.is_boolean()) throw bad_type("true or false");
            (k == "autostart" ? c.autostart : c.delegate) = node.value<bool>();
        } else if (k == "idle") {
            auto v = node.value<double>();
            if (!(node.is_integer() || node.is_floating_point()) || !v || !std::isfinite(*v) || *v < 0)
                throw bad_type("a number of seconds >= 0 (0: never stop)");
            c.idle = *v;
        } else if (k == "gateway" || k == "gateway_token_file") {
            auto s = node.value<std::string>();
            if (!s || !node.is_string() || s->empty()) throw bad_type("a non-empty string");
            (k == "gateway" ? c.gateway : c.gateway_token_file) = *s;
        } else if (k == "gateway_sync") {
            auto s = node.value<std::string>();
            if (!s || !node.is_string() || (*s != "send" && *s != "refuse")) throw bad_type("\"send\" or \"refuse\"");
            c.gateway_sync = *s;
        } else if (k == "gateway_kernels" || k == "workers_per_kernel") {
            auto n = node.value<int64_t>();
            if (!node.is_integer() || !n || *n < 1 || *n > 1024)
                throw bad_type(k == "gateway_kernels" ? "an integer number of kernels (1-1024)" : "an integer number of workers (1-1024)");
            (k == "gateway_kernels" ? c.gateway_kernels : c.workers_per_kernel) = static_cast<int>(*n);
        } else if (k == "kernel" || k == "ip" || k == "python") {
            auto s = node.value<std::string>();
            if (!s || !node.is_string() || s->empty()) throw bad_type("a non-empty string");
            (k == "kernel" ? c.kernel : k == "ip" ? c.ip : c.python) = *s;
        } else if (k == "port") {
            auto p = node.value<int64_t>();
            if (!node.is_integer() || !p || *p < 1 || *p > 65535) throw bad_type("an integer port (1-65535)");
            c.port = static_cast<int>(*p);
        } else {
            throw ltest_error(exit_code::usage, where(file, node) + ": unknown key '" + k +
                                                    "' in [tool.ltest] (known: preload, exclude, python, kernel, ip, port, autostart, idle, delegate, gateway, gateway_kernels, gateway_token_file, gateway_sync, workers_per_kernel)");
        }
    }
    return c;
}

std::optional<project_config> find_project_config(const fs::path& start) {
    std::error_code ec;
    for (fs::path dir = fs::absolute(start, ec);; dir = dir.parent_path()) {
        fs::path candidate = dir / "pyproject.toml";
        if (fs::is_regular_file(candidate, ec))
            if (auto c = parse(candidate)) return c;
        if (dir == dir.root_path() || dir.empty()) return std::nullopt;
    }
}

}  // namespace ltest
