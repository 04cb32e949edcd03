#include "log.hpp"

#include <chrono>
#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>

#include "clean_text.hpp"

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

void dropped(const std::string& why) {
    using clock = std::chrono::steady_clock;
    static clock::time_point window{};
    static int written = 0;
    static long suppressed = 0;
    auto now = clock::now();
    if (now - window >= std::chrono::seconds(1)) {
        if (suppressed > 0) server().warn("dropped {} more message(s) in one second without logging them", suppressed);
        window = now;
        written = 0;
        suppressed = 0;
    }
    if (written >= dropped_lines_per_second) {
        ++suppressed;
        return;
    }
    ++written;
    server().warn("dropped a message: {}", clean_text(why));
}
spdlog::logger& kernel() { return *make("kernel"); }
spdlog::logger& client() { return *make("client"); }

}  // namespace ltest::log
