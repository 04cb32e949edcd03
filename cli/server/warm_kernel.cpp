#include "warm_kernel.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string_view>
#include <thread>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/gateway/channel_bridge.hpp>
#include <kernel_bridge/jupyter_paths.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "python_probe.hpp"
#include "share_dir.hpp"

namespace ltest {
namespace fs = std::filesystem;
namespace kb = kernel_bridge;
using nlohmann::json;
using namespace std::chrono;

static constexpr auto ready_timeout = seconds(60);
static constexpr auto preload_timeout = seconds(600);

static std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    if (!in) throw ltest_error(exit_code::startup, "cannot read " + file.string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string runtime_loader_code(const fs::path& share_dir) {
    // The runtime travels as source (share/ltest/loader.py installs it from
    // memory), so a kernel on another host needs no copy of ltest. Each
    // module: [path, source, is_package]; subpackages are folders with an
    // __init__.py, named as Python would.
    json sources = json::object();
    std::error_code ec;
    const fs::path root = share_dir / "ltest";
    for (const auto& entry : fs::recursive_directory_iterator(root, ec)) {
        if (entry.path().extension() != ".py" || !entry.is_regular_file()) continue;
        fs::path rel = entry.path().lexically_relative(root);
        std::string name = "ltest";
        for (const auto& part : rel.parent_path()) name += "." + part.string();
        bool package = entry.path().stem() == "__init__";
        if (!package) name += "." + entry.path().stem().string();
        sources[name] = json::array({entry.path().string(), read_text(entry.path()), package});
    }
    if (!sources.contains("ltest")) throw ltest_error(exit_code::startup, "no ltest/__init__.py in " + share_dir.string());
    std::string loader = read_text(share_dir / "loader.py");
    // exec in a throwaway namespace: nothing lands in the user's.
    return "exec(compile(" + json(loader).dump() + ", " + json((share_dir / "loader.py").string()).dump() +
           ", 'exec'), {'__ltest_sources__': __import__('json').loads(" + json(sources.dump()).dump() + ")})";
}

std::string runtime_call_code(const std::string& func, const json& arg) {
    return "__import__('ltest')." + func + "(__import__('json').loads(" + json(arg.dump()).dump() + "))";
}

json runtime_result_expression() { return json{{"ltest", "__import__('ltest').last_result()"}}; }

std::optional<json> runtime_result(const json& content) {
    auto ue = content.find("user_expressions");
    if (ue == content.end() || !ue->is_object()) return std::nullopt;
    auto entry = ue->find("ltest");
    if (entry == ue->end() || !entry->is_object() || entry->value("status", "") != "ok") return std::nullopt;
    auto data = entry->find("data");
    if (data == entry->end() || !data->is_object()) return std::nullopt;
    auto value = data->find("application/json");
    if (value == data->end() || !value->is_object()) return std::nullopt;
    return *value;
}

warm_kernel::warm_kernel(zmq::context_t& ctx, kernel_settings settings) : ctx_(ctx), settings_(std::move(settings)) {}

warm_kernel::~warm_kernel() {
    try {
        stop();
    } catch (...) {
    }
}

// No kernelspec to install: the chosen interpreter itself, as a kernelspec
// for it would say.
static kb::kernelspec python_kernelspec(const std::string& python) {
    kb::kernelspec spec;
    spec.name = "python";
    spec.argv = {python, "-m", "ipykernel_launcher", "-f", "{connection_file}"};
    spec.display_name = python;
    spec.language = "python";
    return spec;
}

void warm_kernel::launch() {
    if (settings_.kernel_name.empty()) {
        // Asked once per kernel start (one short probe): a Python without
        // ipykernel or pytest is one line and exit 78 now, not a timeout later.
        chosen_python chosen = settle_python(*settings_.python, settings_.project_root);
        python_ = chosen.facts.python;
        python_version_ = chosen.facts.version;
        python_skipped_ = chosen.skipped;
        spec_ = python_kernelspec(python_);
    } else {
        // The chosen interpreter's sys.prefix/share/jupyter is searched too, as jupyter_core does.
        fs::path prefix;
        if (settings_.python && !settings_.python->candidates.empty())
            prefix = python_prefix(settings_.python->candidates.front());
        try {
            spec_ = kb::find_kernelspec(settings_.kernel_name, kb::jupyter_data_path(prefix));
        } catch (const kb::bridge_error& e) {
            throw ltest_error(exit_code::startup, e.what());
        }
    }
    info_ = kb::new_connection_info(settings_.ip, settings_.kernel_name);
    fs::path dir = kb::jupyter_runtime_dir();
    connection_file_ = dir / ("kernel-ltest-" + std::to_string(::getpid()) + ".json");
    kb::write_connection_file(connection_file_, info_);
    fs::path log_file = dir / ("ltest-kernel-" + std::to_string(::getpid()) + ".log");
    if (settings_.kernel_name.empty())
        log::kernel().info("starting a kernel on {} (Python {})", python_, python_version_);
    else
        log::kernel().info("starting kernel '{}' ({})", spec_->name, spec_->argv.front());
    // Fork-friendly settings for common libraries (see docs/design.md, fork safety).
    // JPY_PARENT_PID: ipykernel then exits if the server dies (besides PDEATHSIG),
    // and treats the process as a managed kernel (no console Ctrl-C note).
    std::map<std::string, std::string> extra_env{{"PYTORCH_NVML_BASED_CUDA_CHECK", "1"},
                                                 {"JPY_PARENT_PID", std::to_string(::getpid())}};
    try {
        process_ = kb::kernel_process::launch(*spec_, connection_file_, log_file, extra_env);
    } catch (const kb::bridge_error& e) {
        throw ltest_error(exit_code::startup, e.what());
    }
    client_ = std::make_unique<kb::kernel_client>(ctx_, info_);
}

void warm_kernel::attach() {
    try {
        connection_file_ = kb::find_connection_file(*settings_.existing, kb::jupyter_runtime_dir());
        info_ = kb::read_connection_file(connection_file_);
    } catch (const kb::bridge_error& e) {
        throw ltest_error(exit_code::startup, e.what());
    }
    log::kernel().info("attaching to kernel {}", connection_file_.string());
    client_ = std::make_unique<kb::kernel_client>(ctx_, info_);
}

json warm_kernel::run_startup_code(const std::string& what, const std::string& code) {
    kb::execute_options opts;
    opts.user_expressions = runtime_result_expression();
    json error;
    kb::execute_handlers handlers;
    handlers.on_iopub = [&](const kb::message& m) {
        if (m.msg_type() == "error") error = m.content;
        if (m.msg_type() == "stream") log::kernel().debug("{}", m.content.value("text", ""));
    };
    kb::message reply = client_->execute(code, opts, handlers, preload_timeout, [this] { return alive_unless_cancelled(); });
    if (reply.content.value("status", "") != "ok") {
        const json& c = reply.content;
        throw ltest_error(exit_code::startup, what + " failed: " + c.value("ename", std::string("error")) + ": " +
                                                  c.value("evalue", std::string()));
    }
    return runtime_result(reply.content).value_or(json::object());
}

void warm_kernel::warm_up() {
    auto t0 = steady_clock::now();
    try {
        client_->wait_for_ready(ready_timeout, [this] { return alive_unless_cancelled(); });
    } catch (const kb::bridge_error& e) {
        std::string why = e.what();
        if (process_ && !process_->running()) {
            why = (settings_.kernel_name.empty() ? "the kernel on " + python_ : "kernel '" + settings_.kernel_name + "'") +
                  " " + process_->exit_description() + " before it was ready";
            std::string tail = process_->log_tail(3);
            if (!tail.empty()) why += ": " + tail;
            if (tail.find("No module named ipykernel") != std::string::npos)
                why += " (install python3-ipykernel for " + spec_->argv.front() + ")";
        }
        throw ltest_error(exit_code::startup, why);
    }
    log::kernel().info("kernel ready in {:.2f} s", duration<double>(steady_clock::now() - t0).count());
    run_startup_code("loading ltest's runtime", runtime_loader_code(share_dir()));
    // Only a kernel reached over loopback shares this host (and its files).
    const std::string& ip = info_.ip;
    bool local = !bridge_ && (ip.rfind("127.", 0) == 0 || ip == "::1" || ip == "localhost");  // a gateway's: anywhere
    hands_over_ = local && !settings_.handover_path.empty() &&
                  run_startup_code("connecting the kernel to the server",
                                   runtime_call_code("attach_server", json{{"path", settings_.handover_path},
                                                                           {"token", settings_.handover_token},
                                                                           {"server_pid", ::getpid()}}))
                      .value("handover", false);
    // With learning on, the runtime also imports the modules learned for this project.
    json what = settings_.learn.is_null() ? json(settings_.modules)
                                          : json{{"modules", settings_.modules}, {"learn", settings_.learn}};
    json result = run_startup_code("preload", runtime_call_code("preload", what));
    preloaded_ = result.value("preloaded", json::array());
    preloaded_idle_ = json::array();
    learned_ = result.value("learned", json());
    speedups_off_ = result.value("speedups_off", json::array());
    for (const auto& off : speedups_off_)
        if (off.is_object())
            log::kernel().warn("speed-up off: {} ({})", off.value("speedup", "?"), off.value("why", "?"));
    if (learned_.is_object())
        for (const auto& w : learned_.value("warnings", json::array())) log::kernel().warn("{}", w.get<std::string>());
    watched_files_ = result.value("watch", std::vector<std::string>{});
    if (bridge_) {
        host_ = ask_host();
        watched_files_.clear();  // the kernel host's files: not this host's to watch
    }
    for (const auto& p : preloaded_)
        log::kernel().info("preloaded {} in {:.2f} s", p.value("module", "?"), p.value("seconds", 0.0));
    started_ = system_clock::now();
}

// The ports a kernel binds are picked by the server (kernel_bridge's
// pick_free_port) and bound by the kernel a moment later: another process can
// take one meanwhile (an outgoing connection's ephemeral port, say). Such a
// start is not the user's problem: it is made again with new ports, twice at
// most. Any other failure is reported as it is.
static bool lost_a_port(const std::exception& e) {
    return std::string_view(e.what()).find("Address already in use") != std::string_view::npos;
}

void warm_kernel::launch_and_warm_up() {
    for (int attempt = 1;; ++attempt) {
        launch();
        try {
            warm_up();
            return;
        } catch (const std::exception& e) {
            stop();
            if (attempt == 3 || !lost_a_port(e)) throw;
            log::kernel().warn("another process took one of the kernel's ports before it bound it; "
                               "starting it again with new ports");
        }
    }
}

void warm_kernel::start() {
    if (!settings_.gateway && !settings_.existing) return launch_and_warm_up();
    if (settings_.gateway)
        launch_gateway();
    else
        attach();
    try {
        warm_up();
    } catch (...) {
        stop();
        throw;
    }
}

void warm_kernel::stop() {
    if (settings_.gateway) return stop_gateway();
    if (!client_) return;
    if (process_) {
        if (process_->running()) {
            try {
                client_->send_control("shutdown_request", json{{"restart", false}});
            } catch (const zmq::error_t&) {
            }
            process_->stop(milliseconds(2000));
        }
        fs::path log_file = process_->log_file();
        process_.reset();
        std::error_code ec;
        fs::remove(connection_file_, ec);
        fs::remove(log_file, ec);
    }
    client_.reset();
}

void warm_kernel::restart() {
    ++restarts_;
    try {
        if (settings_.gateway) {
            stop();
            launch_gateway();
            warm_up();
        } else if (owned()) {
            stop();
            launch_and_warm_up();
        } else {
            client_ = std::make_unique<kb::kernel_client>(ctx_, info_);
            warm_up();
        }
        failure_.clear();
    } catch (const std::exception& e) {
        // Not usable until a later restart works: stopped, and why is kept for the next runs.
        failure_ = e.what();
        stop();
        throw;
    }
}

bool warm_kernel::alive_unless_cancelled() {
    if (settings_.cancelled && settings_.cancelled())
        throw ltest_error(exit_code::interrupted, "interrupted while starting; the kernel is stopped");
    return alive();
}

bool warm_kernel::alive() {
    if (!client_) return false;
    if (process_) return process_->running();
    if (bridge_ && !bridge_->open()) return false;
    client_->beat().tick();
    return !client_->beat().dead();
}

std::string warm_kernel::death_reason() {
    if (process_ && !process_->running()) return "kernel " + process_->exit_description();
    if (bridge_ && !bridge_->open()) return "gateway kernel " + gateway_kernel_id_ + ": " + bridge_->why_closed();
    return "kernel stopped answering its heartbeat";
}

void warm_kernel::interrupt() {
    if (settings_.gateway) return interrupt_gateway();
    if (process_ && spec_ && spec_->interrupt_mode == "signal")
        process_->signal(SIGINT);
    else if (client_)
        client_->send_control("interrupt_request", json::object());
}

void warm_kernel::learned_changed(const json& report) {
    if (report.contains("learned") && report["learned"].is_object()) learned_ = report["learned"];
    json added = report.value("preloaded", json::array());
    if (added.is_array()) {
        for (std::size_t i = preloaded_idle_.size(); i < added.size(); ++i)
            if (added[i].is_object())
                log::kernel().info("preloaded {} in {:.2f} s (learned, imported while idle)", added[i].value("module", "?"),
                                   added[i].value("seconds", 0.0));
        preloaded_idle_ = added;
    }
    if (report.contains("watch") && report["watch"].is_array()) {
        try {
            watched_files_ = report["watch"].get<std::vector<std::string>>();
        } catch (const json::exception&) {
        }
    }
}

json warm_kernel::status() const {
    json preloaded = preloaded_;
    for (const auto& p : preloaded_idle_) preloaded.push_back(p);
    json s{{"kernel_name", settings_.kernel_name},
           {"python", python_},
           {"owned", owned()},
           {"connection_file", connection_file_.string()},
           {"preloaded", preloaded},
           {"learned", learned_},
           {"speedups_off", speedups_off_},
           {"restarts", restarts_},
           {"uptime", duration<double>(system_clock::now() - started_).count()}};
    if (process_) s["kernel_pid"] = process_->pid();
    if (settings_.gateway)  // never the token
        s["gateway"] = json{{"url", settings_.gateway->url}, {"kernel_id", gateway_kernel_id_}, {"host", host_},
                            {"state", failure_.empty() ? (client_ ? "warm" : "stopped") : "failed"}};
    if (!failure_.empty()) s["kernel_error"] = failure_;  // the last restart failed: no kernel until one works
    return s;
}

}  // namespace ltest
