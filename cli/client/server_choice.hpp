#pragma once
// Which server a client talks to. -p (or [tool.ltest] port) names
// one. Otherwise the live server recorded for this project root and
// kernelspec; a run with none starts one (autostart.hpp) unless --no-start
// or [tool.ltest] autostart = false; --status and --stop, and runs that may
// not start one, fall back to find_server's rule (the only live server,
// else port 7070), which is today's exit 69 when there is none.
#include <filesystem>
#include <optional>
#include <string>

#include "options.hpp"

namespace ltest {

// The port of a live server for this project root and kernelspec, if any.
std::optional<int> project_server_port(const std::filesystem::path& root, const std::string& kernel);

// Sets o.port when a server for the project is found or started; leaves it
// unset for find_server's fallback.
void choose_server(options& o, bool may_start);

}  // namespace ltest
