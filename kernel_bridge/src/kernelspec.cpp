#include "kernel_bridge/kernelspec.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {
namespace fs = std::filesystem;
using nlohmann::json;

// One left-to-right pass, so a substituted path that itself contains a
// placeholder is left alone.
static std::string substitute(const std::string& arg, const std::map<std::string, std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < arg.size();) {
        bool replaced = false;
        for (const auto& [placeholder, value] : values)
            if (arg.compare(i, placeholder.size(), placeholder) == 0) {
                out += value;
                i += placeholder.size();
                replaced = true;
                break;
            }
        if (!replaced) out += arg[i++];
    }
    return out;
}

std::vector<std::string> kernelspec::command(const fs::path& connection_file) const {
    const std::map<std::string, std::string> values{{"{connection_file}", connection_file.string()},
                                                    {"{resource_dir}", resource_dir.string()}};
    std::vector<std::string> out;
    for (const auto& a : argv) out.push_back(substitute(a, values));
    return out;
}

kernelspec read_kernelspec(const std::string& name, const fs::path& dir) {
    fs::path file = dir / "kernel.json";
    std::ifstream in(file);
    if (!in) throw bad_file("cannot read " + file.string());
    kernelspec spec;
    spec.name = name;
    spec.resource_dir = dir;
    try {
        json j = json::parse(in);
        spec.argv = j.at("argv").get<std::vector<std::string>>();
        spec.display_name = j.value("display_name", name);
        spec.language = j.value("language", std::string());
        spec.interrupt_mode = j.value("interrupt_mode", std::string("signal"));
        if (j.contains("env")) spec.env = j.at("env").get<std::map<std::string, std::string>>();
    } catch (const json::exception& e) {
        throw bad_file(file.string() + ": " + e.what());
    }
    if (spec.argv.empty()) throw bad_file(file.string() + ": \"argv\" is empty");
    if (spec.interrupt_mode != "signal" && spec.interrupt_mode != "message")
        throw bad_file(file.string() + ": interrupt_mode must be \"signal\" or \"message\"");
    return spec;
}

kernelspec find_kernelspec(const std::string& name, const std::vector<fs::path>& dirs) {
    std::string searched;
    for (const auto& d : dirs) {
        fs::path dir = d / "kernels" / name;
        std::error_code ec;
        if (fs::exists(dir / "kernel.json", ec)) return read_kernelspec(name, dir);
        searched += (searched.empty() ? "" : ", ") + (d / "kernels").string();
    }
    throw no_such_kernel("no kernelspec named '" + name + "' (looked in " + searched + ")");
}

}  // namespace kernel_bridge
