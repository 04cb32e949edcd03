#include "log.hpp"

#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>

namespace ltest::log {

static std::shared_ptr<spdlog::logger> make(const char* name) {
    auto existing = spdlog::get(name);
    if (existing) return existing;
    auto logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("[%n] %v");
    logger->set_level(spdlog::get_level());
    spdlog::register_logger(logger);
    return logger;
}

void setup(int verbosity) {
    auto level = verbosity < 0 ? spdlog::level::warn : verbosity > 0 ? spdlog::level::debug : spdlog::level::info;
    if (const char* env = std::getenv("LTEST_LOG"); env && *env) level = spdlog::level::from_str(env);
    spdlog::set_level(level);
    for (const char* name : {"server", "kernel", "client"}) make(name)->set_level(level);
}

spdlog::logger& server() { return *make("server"); }
spdlog::logger& kernel() { return *make("kernel"); }

}  // namespace ltest::log
