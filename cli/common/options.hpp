#pragma once
// The command line: `ltest -l [...]` serves, `ltest [...] -- ARGS` runs pytest ARGS.
#include <optional>
#include <string>
#include <vector>

namespace ltest {

struct options {
    bool listen = false;
    bool status = false;
    bool stop = false;
    bool json = false;
    std::string ip = "127.0.0.1";
    std::optional<int> port;  // unset: the only running server, else 7070
    std::vector<std::string> modules;
    std::string kernel;  // a kernelspec name; "": the kernel runs on the chosen Python (python_choice.hpp)
    std::optional<std::string> existing;  // "" = the most recent kernel
    double timeout = 0;                   // seconds, 0 = none
    int workers = 1;                      // -n: parallel test processes, 0 = one per CPU
    int verbosity = 0;                    // -q: -1, -v: 1
    std::vector<std::string> pytest_args;  // everything after the first `--`
    std::string config_file;               // the pyproject.toml that set defaults, if any
    // Zero configuration (zeroconf_options.cpp):
    bool autostart = true;             // false (--no-start, [tool.ltest] autostart): no server is exit 69
    std::optional<double> idle;        // --idle: an idle server stops after this many seconds
    bool watch = false;                // --watch: run again on every change under the project root
    bool forget = false;               // --forget: clear the learned preloads of this project
    std::vector<std::string> exclude;  // [tool.ltest] exclude: learned preloads never imported
    std::string python;                // --python: the interpreter to serve, whatever the rule says
    std::string config_python;         // [tool.ltest] python, absolute (or a name looked up on PATH)
    bool port_chosen = false;          // the port is the project's server's (server_choice.hpp), not -p's
    // Kernels of a Jupyter Enterprise Gateway (gateway_options.cpp); its token
    // comes from the environment or gateway_token_file, never from a flag.
    std::string gateway;             // --gateway URL, [tool.ltest] gateway
    int gateway_kernels = 1;         // --gateway-kernels K, [tool.ltest] gateway_kernels
    std::string gateway_token_file;  // [tool.ltest] gateway_token_file, absolute
    int workers_per_kernel = 0;      // [tool.ltest] workers_per_kernel: -n auto's on each (0: its CPUs)
    std::string gateway_sync = "send";  // [tool.ltest] gateway_sync: a kernel whose tree differs gets the files, or "refuse"
    bool gateway_flags = false;      // --gateway or --gateway-kernels given (a server's flags)
};

inline constexpr int default_port = 7070;

// Parses argv. Returns nullopt after printing --help/--version (exit 0);
// throws ltest_error(exit_code::usage) on a bad flag.
std::optional<options> parse_options(int argc, char** argv);

}  // namespace ltest
