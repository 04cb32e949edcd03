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
spdlog::logger& kernel() { return *make("kernel"); }

namespace {
struct dropped_window {
    std::chrono::steady_clock::time_point start{};
    int written = 0;
    long suppressed = 0;
};
dropped_window window;

// A new one-second window once the last is over, after a line counting what it suppressed.
void roll_window(std::chrono::steady_clock::time_point now) {
    if (now - window.start < std::chrono::seconds(1)) return;
    if (window.suppressed > 0)
        server().warn("dropped {} more message(s) in one second without logging them", window.suppressed);
    window = dropped_window{now};
}
}  // namespace

void dropped(const std::string& line) {
    roll_window(std::chrono::steady_clock::now());
    if (window.written >= dropped_lines_per_second) {
        ++window.suppressed;
        return;
    }
    ++window.written;
    server().warn("{}", clean_text(line));
}

void flush_dropped() { roll_window(std::chrono::steady_clock::now()); }

}  // namespace ltest::log
