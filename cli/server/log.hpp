#pragma once
// Component-prefixed logs on stderr: [server], [kernel].
// Level: -q warn, default info, -v debug; LTEST_LOG=debug|info|warn overrides.
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace ltest::log {

void setup(int verbosity);
spdlog::logger& server();
spdlog::logger& kernel();

// A warning line about a message dropped unread (unsigned, wrongly signed,
// replayed): anyone who can reach the port can cause one per packet, so at
// most dropped_lines_per_second are written a second, then one line counts
// the rest. The text is cleaned of control characters (clean_text.hpp).
inline constexpr int dropped_lines_per_second = 10;
void dropped(const std::string& line);
// Writes the counting line of a window that is over (call it from the event loop).
void flush_dropped();

}  // namespace ltest::log
