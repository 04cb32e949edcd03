#include "gateway_status.hpp"
#include "reply_reader.hpp"

#include <cstdio>

#include "byte_text.hpp"
#include "clean_text.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"

namespace ltest {
using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& what) {
    throw ltest_error(exit_code::protocol, "bad answer from the server: " + what);
}

const json& object_of(const json& content, const std::string& type) {
    if (!content.is_object()) bad(type + " content is not an object");
    return content;
}

// A field of `c` that must have one JSON type when present; `fallback` when absent.
template <class T>
T field(const json& c, const char* key, T fallback) {
    auto it = c.find(key);
    if (it == c.end()) return fallback;
    bool ok;
    if constexpr (std::is_same_v<T, std::string>) ok = it->is_string();
    else if constexpr (std::is_same_v<T, bool>) ok = it->is_boolean();
    else if constexpr (std::is_same_v<T, double>) ok = it->is_number();
    else if constexpr (std::is_same_v<T, json>) ok = it->is_array();
    else ok = it->is_number_integer() && *it >= 0 && *it <= 1'000'000'000;
    if (!ok) bad(std::string("\"") + key + "\" is " + clean_text(it->dump().substr(0, 40)));
    return it->get<T>();
}

std::string seconds_text(double s) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// The fork_unsafe reasons as one line: each a string.
std::string reasons(const json& why, const char* sep) {
    std::string out;
    for (const auto& r : why) {
        if (!r.is_string()) bad("a fork_unsafe reason is not a string");
        out += (out.empty() ? "" : sep) + clean_text(r.get<std::string>());
    }
    return out;
}

void read_run_status(const json& c, run_reading& state, run_event& e) {
    std::string s = field<std::string>(c, "state", "");
    if (s == protocol::run_state::queued && !state.told_busy) {
        e.notices.push_back("the kernel is busy (" + std::to_string(field<int>(c, "ahead", 1)) + " run(s) ahead); waiting");
        state.told_busy = true;
    } else if (s == protocol::run_state::kernel_busy) {
        e.notices.push_back("the kernel is busy with another request (a notebook cell?); waiting");
    } else if (s == protocol::run_state::restarting) {
        e.notices.push_back(clean_text(field<std::string>(c, "reason", "stale preload")) + "; restarting the kernel");
    } else if (s == protocol::run_state::restarted) {
        e.notices.push_back("kernel restarted and preloaded in " + seconds_text(field<double>(c, "seconds", 0.0)));
    }
}

void read_run_reply(const json& c, const run_reading& state, run_event& e) {
    e.what = run_event::kind::finished;
    e.exit_code = run_exit_code(c);
    std::string error = field<std::string>(c, "error", "");
    if (field<std::string>(c, "status", "") != "ok" || c.contains("error"))
        e.notices.push_back(error.empty() ? "the run failed" : clean_text(error));
    json why = field<json>(c, "fork_unsafe", json::array());
    if (state.hang_suspected && !why.empty()) e.notices.push_back("likely cause of the hang: " + reasons(why, "; "));
}

}  // namespace

int run_exit_code(const json& c) {
    auto it = c.find("exit_code");
    if (it == c.end()) bad("run_reply without an exit code");
    // 256 would reach the shell as 0 (a pass), 300 as 44: only 0-255 is an exit code.
    if (!it->is_number_integer() || *it < 0 || *it > 255)
        bad("exit code " + clean_text(it->dump().substr(0, 40)) + " (not an integer 0-255)");
    return it->get<int>();
}

run_event read_run_message(const std::string& type, const json& content, run_reading& state) {
    run_event e;
    if (type == protocol::stream) {
        const json& c = object_of(content, type);
        e.what = run_event::kind::output;
        e.fd = field<std::string>(c, "name", "stdout") == "stderr" ? 2 : 1;
        try {
            e.text = text_to_bytes(field<std::string>(c, "text", ""));  // the test's bytes (byte_text.hpp)
        } catch (const std::invalid_argument& err) {
            bad(std::string("stream text: ") + err.what());
        }
    } else if (type == protocol::run_status) {
        read_run_status(object_of(content, type), state, e);
    } else if (type == protocol::input_request) {
        const json& c = object_of(content, type);
        e.what = run_event::kind::input;
        e.text = field<std::string>(c, "prompt", "");
        e.password = field<bool>(c, "password", false);
    } else if (type == protocol::run_reply) {
        read_run_reply(object_of(content, type), state, e);
    }
    return e;
}

// What the test runs taught (learned preloads), which of it the kernel holds
// (imported at its start or while idle since), and what went wrong keeping it.
static std::string learned_text(const json& learned) {
    if (!learned.is_object()) return "";
    std::string out = "learned:        ";
    json modules = field<json>(learned, "modules", json::array());  // field<json>: a list
    for (const auto& m : modules) {
        if (!m.is_object()) bad("a learned module is not an object");
        out += " " + clean_text(field<std::string>(m, "module", "?")) + " (" + seconds_text(field<double>(m, "seconds", 0.0)) +
               (m.contains("failed") ? ", failed" : m.contains("fork_unsafe") ? ", fork-unsafe" : "") +
               (field<bool>(m, "held", false) ? ", held by the kernel" : "") + ")";
    }
    out += std::string(modules.empty() ? " nothing yet" : "") + "\n";
    // null: the cache directory could not be written (its warning follows).
    if (learned.contains("file") && !learned.at("file").is_null()) out += "learned file:    " + clean_text(field<std::string>(learned, "file", "")) + "\n";
    for (const auto& w : field<json>(learned, "warnings", json::array()))
        out += "warning:         " + clean_text(w.is_string() ? w.get<std::string>() : w.dump()) + "\n";
    return out;
}

// The runs in flight, one line each (pid, phase, age, where, what).
static std::string runs_in_flight_text(const json& s) {
    json runs = field<json>(s, "in_flight", json::array());
    if (!runs.is_array()) bad("in_flight is not a list");
    std::string lines;
    int running = 0;
    for (const auto& r : runs) {
        if (!r.is_object()) bad("a run in flight is not an object");
        std::string phase = clean_text(field<std::string>(r, "phase", "?"));
        running += phase != protocol::run_state::queued;
        std::string args;
        for (const auto& a : field<json>(r, "args", json::array()))
            args += " " + clean_text(a.is_string() ? a.get<std::string>() : a.dump());
        lines += "  pid " + std::to_string(field<int>(r, "pid", 0)) + "  " + phase + "  " +
                 seconds_text(field<double>(r, "age", 0.0)) + "  " + clean_text(field<std::string>(r, "cwd", "")) +
                 "  pytest" + args + "\n";
        if (r.contains("shards") && r.at("shards").is_object()) {  // -n over gateway kernels: each kernel's part
            const json& sh = r.at("shards");
            std::string finished;
            json by_kernel = sh.value("finished_by_kernel", json::object());
            if (!by_kernel.is_object()) bad("finished_by_kernel is not an object");
            for (const auto& [k, n] : by_kernel.items())
                finished += (finished.empty() ? "" : ", ") + ("kernel " + clean_text(k)) + ": " + (n.is_number() ? n.dump() : "?");
            int lead = field<int>(sh, "lead_kernel", 0);
            lines += "    sharded: " + (lead > 0 ? "led by gateway kernel " + std::to_string(lead) : std::string("waiting for a kernel to lead")) +
                     ", " + std::to_string(field<long>(sh, "handed_out", 0)) + " tests handed out" +
                     (finished.empty() ? "" : "; finished by " + finished) + "\n";
        }
    }
    return "runs in flight:  " + std::to_string(running) + ", queued: " + std::to_string(field<int>(s, "queued", 0)) +
           "\n" + lines;
}

// The speed-ups whose probe of a private API failed in this kernel (its
// pytest or pluggy is one they do not know): off, runs take the plain path.
static std::string speedups_off_text(const json& off) {
    if (!off.is_array()) bad("speedups_off is not a list");
    if (off.empty()) return "speed-ups off:   none\n";
    std::string out = "speed-ups off:   " + std::to_string(off.size()) + "\n";
    for (const auto& o : off) {
        if (!o.is_object()) bad("a speedups_off entry is not an object");
        out += "  " + clean_text(field<std::string>(o, "speedup", "?")) + ": " + clean_text(field<std::string>(o, "why", "?")) + "\n";
    }
    return out;
}

std::string status_text(const json& reply) {
    const json& s = object_of(reply, protocol::status_reply);
    auto str = [&](const char* key) { return clean_text(field<std::string>(s, key, "?")); };
    std::string out = "server:          " + str("address") + " (pid " + std::to_string(field<int>(s, "server_pid", 0)) +
                      ", ltest " + str("version") + ")\n";
    // A kernelspec's name, or the interpreter a kernel without one runs on.
    std::string python = clean_text(field<std::string>(s, "python", ""));
    std::string spec = clean_text(field<std::string>(s, "kernel_name", ""));
    out += "kernel:          " + (!spec.empty() || python.empty() ? (spec.empty() ? std::string("?") : spec)
                                                                  : python + " -m ipykernel_launcher");
    if (s.contains("kernel_pid")) out += " (pid " + std::to_string(field<int>(s, "kernel_pid", 0)) + ")";
    out += std::string(field<bool>(s, "owned", true) ? "" : " attached") + "\n";
    if (s.contains("kernel_error"))
        out += "kernel error:    " + clean_text(field<std::string>(s, "kernel_error", "")) + " (retried at the next run)\n";
    out += "connection file: " + clean_text(field<std::string>(s, "connection_file", "")) + "\n";
    out += "preloaded:      ";
    for (const auto& p : field<json>(s, "preloaded", json::array())) {
        if (!p.is_object()) bad("a preloaded entry is not an object");
        std::string source = clean_text(field<std::string>(p, "source", ""));  // configured, learned or pytest
        out += " " + clean_text(field<std::string>(p, "module", "?")) + " (" +
               seconds_text(field<double>(p, "seconds", 0.0)) + (source.empty() ? "" : ", " + source) + ")";
    }
    out += "\n";
    if (auto learned = s.find("learned"); learned != s.end()) out += learned_text(*learned);  // an object, or null
    if (s.contains("project_root")) {
        std::string root = clean_text(field<std::string>(s, "project_root", ""));
        out += "project root:    " + (root.empty() ? std::string("none (shared by the directories without a project marker)") : root) + "\n";
    }
    if (s.contains("idle_timeout")) {
        json idle = s["idle_timeout"];
        out += "idle stop:       " + (idle.is_number() ? "after " + seconds_text(idle.get<double>()) : std::string("never")) + "\n";
    }
    out += "uptime:          " + seconds_text(field<double>(s, "server_uptime", 0.0)) + "\n";
    out += "runs served:     " + std::to_string(field<int>(s, "runs", 0)) + "\n";
    out += "restarts:        " + std::to_string(field<int>(s, "restarts", 0)) + "\n";
    out += runs_in_flight_text(s);
    out += gateway_kernels_text(s);
    out += speedups_off_text(field<json>(s, "speedups_off", json::array()));
    json why = field<json>(s, "fork_unsafe", json::array());
    out += "fork-safe:       " + (why.empty() ? std::string("yes") : "no (" + reasons(why, "; ") + ")") + "\n";
    return out;
}

}  // namespace ltest
