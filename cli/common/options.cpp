#include "options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "config.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "gateway_options.hpp"
#include "ip_address.hpp"
#include "pytest_flags.hpp"
#include "zeroconf_options.hpp"

namespace ltest {

static const char* description = R"(ltest: a warm, forking test server for pytest.

With nothing started, the first run starts a server for the project (it stops after 30 min idle):
  ltest -- -q                       later runs are warm; slow imports the tests made get preloaded
  ltest --watch -- -q               run again on every save
Or start a server yourself, with the slow imports done in a warm IPython kernel:
  ltest -l -m torch                 serve on 127.0.0.1:7070, torch preloaded
Then run pytest in a fork of that kernel, as often as you like:
  ltest -- -v tests/                same output and exit code as `python3 -m pytest -v tests/`
  ltest -- --co                     collect only
  ltest -n 4 -- tests/              collect once, run the tests in 4 forked workers
  ltest --status | --stop           inspect or stop the server

Everything after the first `--` goes to pytest unchanged. Before it, in a run, the pytest flags
-v, -q, -x, -s, -k EXPR, -m EXPR, --lf, --ff and paths are pytest's too:
  ltest -k normalize tests/         same as ltest -- -k normalize tests/)";

// [tool.ltest] fills in what the command line left unset.
static void apply_project_config(options& o, const CLI::App& app) {
    std::error_code ec;  // a deleted working directory has no project: --status still works
    auto cwd = std::filesystem::current_path(ec);
    if (ec) return;
    auto config = find_project_config(cwd);
    if (!config) return;
    o.config_file = config->file.string();
    if (config->preload && o.listen && app.count("--module") == 0) o.modules = *config->preload;
    if (config->kernel && app.count("--kernel") == 0) o.kernel = *config->kernel;
    if (config->ip && app.count("--ip") == 0) o.ip = *config->ip;
    if (config->port && !o.port) o.port = config->port;
    apply_zeroconf_config(o, app, *config);  // autostart, idle, exclude
    apply_gateway_config(o, app, *config);   // gateway, gateway_kernels, gateway_token_file
}

// --timeout: a finite number of seconds >= 0 (0: none). Not CLI11's range
// check, whose message prints the largest double, and which lets nan through.
static double parse_timeout(const std::string& v) {
    char* end = nullptr;
    double t = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(t) || t < 0)
        throw CLI::ValidationError("--timeout", "expects a number of seconds >= 0 (0: none), got '" + v + "'");
    return t;
}

// -n: a number of workers >= 1, or "auto" (0: one per CPU of the kernel's host).
static int parse_workers(const std::string& v) {
    if (v == "auto") return 0;
    try {
        std::size_t used = 0;
        int n = std::stoi(v, &used);
        if (used == v.size() && n >= 1) return n;
    } catch (const std::exception&) {
    }
    throw CLI::ValidationError("-n", "expects a number of workers >= 1 or 'auto', got '" + v + "'");
}

// A word as a shell would need it typed: quoted when it holds more than
// letters, digits and -_./=:@,+%.
static std::string shell_word(const std::string& w) {
    if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") ==
                          std::string::npos)
        return w;
    std::string out = "'";
    for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Splits at the first `--` ourselves: pytest arguments may contain another
// `--`. Fills pytest_args; returns the number of argv entries that are ltest's.
static int take_pytest_args(int argc, char** argv, options& o) {
    int split = argc;
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--") {
            split = i;
            break;
        }
    for (int i = split + 1; i < argc; ++i) o.pytest_args.emplace_back(argv[i]);
    return split;
}

// Where the server is, what it preloads, which kernel it starts.
static void add_server_options(CLI::App& app, options& o) {
    app.add_flag("-l,--listen", o.listen, "Start a server (a warm kernel) instead of running tests");
    app.add_option("-i,--ip", o.ip, "Server address to bind or reach")->capture_default_str();
    app.add_option("-p,--port", o.port, "Server port (a client: the project's server, started if none; ltest -l: 7070)")
        ->check(CLI::Range(1, 65535));
    app.add_option("-m,--module", o.modules, "Module to preload in the kernel (repeatable, dotted names)");
    app.add_option("--kernel", o.kernel,
                   "Jupyter kernelspec to start (default: none; the kernel runs on the project's Python, see --python)");
    app.add_option("--existing", o.existing,
                   "Attach to a running kernel by connection file (name, path, or empty: the most recent)")
        ->expected(0, 1)
        ->default_str("");
    app.add_flag("--status", o.status, "Show the running server's state");
    app.add_flag("--stop", o.stop, "Stop the running server");
}

// How a run runs and reports.
static void add_run_options(CLI::App& app, options& o) {
    app.add_flag("--json", o.json, "Print the final reply as JSON");
    app.add_option_function<std::string>(
           "-n,--workers", [&](const std::string& v) { o.workers = parse_workers(v); },
           "Run the collected tests in N forked workers (auto: one per CPU of the kernel's host)")
        ->type_name("N|auto");
    app.add_option_function<std::string>(
           "--timeout", [&](const std::string& v) { o.timeout = parse_timeout(v); },
           "Interrupt the run after this many seconds (3 s later: kill it; 2.5 s more: give up, exit 124)")
        ->type_name("SECONDS");
}

static void add_verbosity_options(CLI::App& app, options& o) {
    auto* quiet = app.add_flag_callback("-q,--quiet", [&] { o.verbosity = -1; }, "Only warnings and errors");
    app.add_flag_callback("-v,--verbose", [&] { o.verbosity = 1; }, "Debug logs (protocol messages)")->excludes(quiet);
}

// Throws ltest_error(usage) for flags that belong to the other mode.
static void check_combinations(const options& o) {
    if (o.existing && !o.listen) throw ltest_error(exit_code::usage, "--existing needs -l/--listen");
    if (!o.modules.empty() && !o.listen) throw ltest_error(exit_code::usage, "-m/--module needs -l/--listen");
    if (o.listen && o.workers != 1) throw ltest_error(exit_code::usage, "-n applies to a run: ltest -n N -- ARGS");
    if (o.listen && (o.status || o.stop)) throw ltest_error(exit_code::usage, "--status/--stop talk to a server; drop -l");
    if (o.listen && !o.pytest_args.empty())
        throw ltest_error(exit_code::usage, "a server takes no pytest arguments; run them with `ltest -- ARGS`");
    check_zeroconf_options(o);
    check_gateway_options(o);
}

std::optional<options> parse_options(int argc, char** argv) {
    options o;
    int split = take_pytest_args(argc, argv, o);
    CLI::App app{description, "ltest"};
    // A plain flag, not CLI11's version flag, which throws: the client's
    // first exception costs 1.5 ms (cli/CMakeLists.txt), and `ltest -V` is
    // how bench/ times the client's start.
    bool version = false;
    app.add_flag("-V,--version", version, "Display program version information and exit");
    add_server_options(app, o);
    add_run_options(app, o);
    add_zeroconf_options(app, o);  // --no-start, --idle, --watch, --forget
    add_gateway_options(app, o);   // --gateway, --gateway-kernels
    add_verbosity_options(app, o);
    app.footer("Exit codes: pytest's own (0-5), 128+N for a test process killed by signal N,\n"
               "64 usage, 69 no server, 70 ltest internal error, 75 kernel died, 76 protocol error, 78 start-up failed,\n"
               "124 --timeout passed and the server never answered.");
    std::vector<ltest_flag> known;
    for (const CLI::Option* opt : app.get_options()) {
        for (const auto& n : opt->get_snames()) known.push_back({"-" + n, opt->get_items_expected_max() > 0});
        for (const auto& n : opt->get_lnames()) known.push_back({"--" + n, opt->get_items_expected_max() > 0});
    }
    std::vector<std::string> words(argv + 1, argv + split);
    for (const auto& w : words) {  // a typo of ltest's own flag: its nearest
        if (w.rfind("--", 0) != 0) continue;
        std::string name = w.substr(0, w.find('='));
        bool ours = std::any_of(known.begin(), known.end(), [&](const ltest_flag& f) { return f.name == name; });
        if (std::string near = ours ? "" : nearest_flag(w, known); !near.empty())
            throw ltest_error(exit_code::usage, "unknown flag " + name + "; did you mean " + near + "?");
    }
    std::vector<std::string> ours{argv[0]};
    if (is_run(words)) {  // the pytest flags typed before `--` are pytest's, in order
        split_words run = split_run_words(words, known);
        if (!run.foreign.empty()) {
            std::string fix = "ltest";
            for (const auto& w : run.ltest) fix += " " + shell_word(w);
            fix += " --";
            for (const auto& w : run.pytest) fix += " " + shell_word(w);
            for (const auto& w : o.pytest_args) fix += " " + shell_word(w);
            throw ltest_error(exit_code::usage, run.foreign + " is not an ltest flag; pytest arguments go after `--`: " + fix);
        }
        ours.insert(ours.end(), run.ltest.begin(), run.ltest.end());
        o.pytest_args.insert(o.pytest_args.begin(), run.pytest.begin(), run.pytest.end());
    } else {
        ours.insert(ours.end(), words.begin(), words.end());
    }
    std::vector<char*> ours_argv;
    for (auto& w : ours) ours_argv.push_back(w.data());
    try {
        app.parse(static_cast<int>(ours_argv.size()), ours_argv.data());
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        std::string hint = split == argc ? " (pytest arguments go after `--`)" : "";
        throw ltest_error(exit_code::usage, e.what() + hint);
    }
    if (version) {
        std::cout << "ltest " << LTEST_VERSION << "\n";
        return std::nullopt;
    }
    apply_project_config(o, app);
    o.ip = canonical_ip(o.ip);
    // A host name would reach libzmq as a network interface's name ("No such
    // device") and the client, which resolves no names, as nothing.
    if (!connect_address(o.ip, default_port))
        throw ltest_error(exit_code::usage,
                          (app.count("--ip") > 0 || o.config_file.empty() ? std::string("--ip") : "ip in " + o.config_file) +
                              ": '" + o.ip + "' is not an IP address (a numeric IPv4 or IPv6 address, localhost, or "
                              "0.0.0.0 for every interface)");
    check_combinations(o);
    return o;
}

}  // namespace ltest
