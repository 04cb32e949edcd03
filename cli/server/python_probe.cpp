#include "python_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "project_root.hpp"

namespace ltest {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono;

namespace {

// A start-up of its own plus importlib.metadata: tens of ms; a loaded machine or a cold disk, seconds.
constexpr auto probe_timeout = seconds(60);

// Presence by find_spec (nothing imported: a broken package still counts as
// there; the kernel's start then says what is wrong), version by metadata.
constexpr const char* probe_code = R"PY(
import json, os, sys, sysconfig
from importlib import util
def version(module, dist):
    try:
        if util.find_spec(module) is None:
            return None
    except Exception:
        return None
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:
        return "?"
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix, "version": sys.version.split()[0],
                  "pytest": version("pytest", "pytest"), "ipykernel": version("ipykernel", "ipykernel"),
                  "pyzmq": version("zmq", "pyzmq"),
                  "externally_managed": os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))}))
)PY";

// stdout and stderr of `python -c code`, and its wait status; throws when it cannot run or hangs.
std::pair<std::string, std::string> run_probe(const std::string& python, int& status) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw ltest_error(exit_code::startup, std::string("pipe2: ") + std::strerror(errno));
    std::vector<std::string> args{python, "-c", probe_code};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_RDONLY);
        ::dup2(null_fd, 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::execv(argv[0], argv.data());
        const char msg[] = "cannot run it\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) throw ltest_error(exit_code::startup, std::string("fork: ") + std::strerror(errno));
    std::string texts[2];
    bool open[2] = {true, true};
    auto deadline = steady_clock::now() + probe_timeout;
    while ((open[0] || open[1]) && steady_clock::now() < deadline) {
        pollfd fds[2] = {{open[0] ? out[0] : -1, POLLIN, 0}, {open[1] ? err[0] : -1, POLLIN, 0}};
        if (::poll(fds, 2, 100) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (!open[i] || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t n = ::read(i == 0 ? out[0] : err[0], buf, sizeof buf);
            if (n > 0) texts[i].append(buf, static_cast<std::size_t>(n));
            else if (n == 0 || errno != EINTR) open[i] = false;
        }
    }
    ::close(out[0]);
    ::close(err[0]);
    if (open[0] || open[1]) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        throw ltest_error(exit_code::startup, python + " did not answer in " + std::to_string(probe_timeout.count()) +
                                                  " s when asked what it has installed");
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {texts[0], texts[1]};
}

std::string last_line(const std::string& text) {
    std::istringstream in(text);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

int major_of(const std::optional<std::string>& v) {
    if (!v || v->empty() || !std::isdigit(static_cast<unsigned char>((*v)[0]))) return -1;
    return std::atoi(v->c_str());
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// uv manages this project: a lock file, or a [tool.uv] table.
bool uv_project(const fs::path& root) {
    std::error_code ec;
    if (fs::exists(root / "uv.lock", ec)) return true;
    std::string text = read_text(root / "pyproject.toml");
    return text.find("[tool.uv]") != std::string::npos || text.find("[tool.uv.") != std::string::npos;
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

// A word the shell passes through unchanged, or it in single quotes.
std::string shell_word(const std::string& s) {
    if (s.find_first_of(" '\"\\$`<>|&;()*?[]{}!#~") == std::string::npos) return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

python_facts probe_python(const std::string& python) {
    int status = 0;
    auto [out, err] = run_probe(python, status);
    python_facts f;
    f.python = python;
    try {
        json j = json::parse(last_line(out));
        f.executable = j.value("executable", python);
        f.prefix = j.value("prefix", std::string());
        f.version = j.value("version", std::string());
        auto opt = [&](const char* key) {
            return j.contains(key) && j[key].is_string() ? std::optional<std::string>(j[key].get<std::string>())
                                                         : std::nullopt;
        };
        f.pytest = opt("pytest");
        f.ipykernel = opt("ipykernel");
        f.pyzmq = opt("pyzmq");
        f.externally_managed = j.value("externally_managed", false);
    } catch (const json::exception&) {
        std::string why = last_line(err);
        if (why.empty()) why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status)) : "killed";
        throw ltest_error(exit_code::startup, python + " does not run as a Python 3: " + why);
    }
    return f;
}

std::string install_command(const python_facts& f, const fs::path& root, const std::vector<std::string>& packages) {
    std::error_code ec;
    fs::path python = fs::absolute(f.python, ec).lexically_normal();
    fs::path venv = python.parent_path().parent_path();
    std::vector<std::string> quoted;
    for (const auto& p : packages) quoted.push_back(shell_word(p));
    if (venv == root / ".venv" && uv_project(root)) return "uv add --dev " + joined(quoted);
    if (read_text(venv / "pyvenv.cfg").find("\nuv =") != std::string::npos ||
        read_text(venv / "pyvenv.cfg").rfind("uv =", 0) == 0)
        return "uv pip install --python " + shell_word(f.python) + " " + joined(quoted);
    if (f.externally_managed && f.prefix == "/usr" && fs::exists("/etc/debian_version", ec)) {
        std::vector<std::string> debs;
        for (const auto& p : packages)
            debs.push_back(p.rfind("pyzmq", 0) == 0 ? "python3-zmq" : "python3-" + p);
        return "apt install " + joined(debs);
    }
    return shell_word(f.python) + " -m pip install " + joined(quoted);
}

std::string python_problem(const python_facts& f, const fs::path& root) {
    if (!f.pytest && !f.ipykernel)
        return f.python + " has neither pytest nor ipykernel (ltest's kernel); install them with: " +
               install_command(f, root, {"pytest", "ipykernel"});
    if (!f.ipykernel)
        return f.python + " has no ipykernel (ltest's kernel); install it with: " + install_command(f, root, {"ipykernel"});
    if (!f.pytest) return f.python + " has no pytest; install it with: " + install_command(f, root, {"pytest"});
    // ipykernel 7 waits on pyzmq features that came with 25: on an older one its kernel never answers.
    int zmq = major_of(f.pyzmq);
    if (major_of(f.ipykernel) >= 7 && zmq >= 0 && zmq < 25)
        return f.python + " has ipykernel " + *f.ipykernel + " with pyzmq " + *f.pyzmq +
               ", a pair whose kernel never answers (ipykernel 7 needs pyzmq >= 25); install a newer pyzmq with: " +
               install_command(f, root, {"pyzmq>=25"});
    return "";
}

chosen_python settle_python(const python_choice& choice, const fs::path& root) {
    chosen_python chosen;
    std::optional<python_facts> first;
    for (const auto& candidate : choice.candidates) {
        python_facts f = probe_python(candidate);
        if (!first) first = f;
        // From PATH: the first python3 that has pytest is the one `python3 -m pytest` users mean.
        if (choice.from == python_choice::source::path && !f.pytest && &candidate != &choice.candidates.back()) {
            chosen.skipped.push_back(candidate);
            continue;
        }
        if (choice.from == python_choice::source::path && !f.pytest) f = *first;  // none has pytest: say so of the first
        if (std::string problem = python_problem(f, root); !problem.empty())
            throw ltest_error(exit_code::startup, problem);
        chosen.facts = f;
        return chosen;
    }
    throw ltest_error(exit_code::startup, "no interpreter to start a kernel on");
}

}  // namespace ltest
