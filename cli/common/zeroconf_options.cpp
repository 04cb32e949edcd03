#include "zeroconf_options.hpp"

#include <cmath>
#include <cstdlib>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

void add_zeroconf_options(CLI::App& app, options& o) {
    app.add_flag_callback("--no-start", [&] { o.autostart = false; },
                          "With no server for this project, fail (exit 69) instead of starting one");
    // Not CLI11's NonNegativeNumber, whose message prints the largest double
    // (309 digits) and which lets nan through.
    app.add_option_function<std::string>(
           "--idle",
           [&](const std::string& v) {
               char* end = nullptr;
               double t = std::strtod(v.c_str(), &end);
               if (v.empty() || *end != '\0' || !std::isfinite(t) || t < 0)
                   throw CLI::ValidationError("--idle", "expects a number of seconds >= 0 (0: never stop), got '" + v + "'");
               o.idle = t;
           },
           "Seconds an idle server (no run, no client) waits before it stops (0: never; "
           "a server started by a run: 1800)")
        ->type_name("SECONDS");
    app.add_flag("--watch", o.watch, "Run the tests, then again each time a file under the project root changes");
    app.add_flag("--forget", o.forget, "Forget the preloads learned from this project's test runs");
    app.add_option("--python", o.python,
                   "The Python to serve (default: the one `python -m pytest` runs here: $VIRTUAL_ENV, the project's "
                   ".venv, [tool.ltest] python, else the first python3 on PATH that has pytest)")
        ->type_name("PYTHON");
}

void apply_zeroconf_config(options& o, const CLI::App& app, const project_config& config) {
    if (config.autostart && app.count("--no-start") == 0) o.autostart = *config.autostart;
    if (config.idle && !o.idle) o.idle = config.idle;
    if (config.exclude) o.exclude = *config.exclude;
    // --python on the command line wins over [tool.ltest] kernel, as any flag over the file.
    if (app.count("--python") > 0 && app.count("--kernel") == 0 && config.kernel) o.kernel.clear();
    if (config.python) {
        // A path is relative to the file that says it; a bare name is looked up on PATH.
        const std::string& p = *config.python;
        o.config_python = p.find('/') == std::string::npos ? p : (config.file.parent_path() / p).lexically_normal().string();
    }
}

void check_zeroconf_options(const options& o) {
    if (o.watch && (o.listen || o.status || o.stop || o.forget))
        throw ltest_error(exit_code::usage, "--watch runs tests: ltest --watch -- ARGS");
    if (!o.python.empty() && !o.kernel.empty())
        throw ltest_error(exit_code::usage, "--python and --kernel both say which kernel to start: give one");
    if (o.forget && (o.listen || o.status || o.stop || !o.pytest_args.empty()))
        throw ltest_error(exit_code::usage, "--forget takes no other action: ltest --forget");
}

}  // namespace ltest
