#pragma once
// Helpers shared by the unit and bridge tests: temp dirs, environment guards,
// running Debian's Python, and checking an exception's type and message.
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#ifndef KB_TEST_PYTHON
#define KB_TEST_PYTHON "/usr/bin/python3"
#endif

namespace kb_test {
namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "kb-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(const fs::path& p) const { return path_ / p; }

private:
    fs::path path_;
};

// Sets (or, with nullopt, unsets) environment variables, restoring them on exit.
class env_guard {
public:
    env_guard() = default;
    explicit env_guard(const std::map<std::string, std::optional<std::string>>& vars) {
        for (const auto& [k, v] : vars) set(k, v);
    }
    ~env_guard() {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else ::unsetenv(it->first.c_str());
        }
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;

    void set(const std::string& name, const std::optional<std::string>& value) {
        const char* old = std::getenv(name.c_str());
        saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
        if (value) ::setenv(name.c_str(), value->c_str(), 1);
        else ::unsetenv(name.c_str());
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

inline void write_text(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
    ::chmod(p.c_str(), 0600);  // owner-only, as connection files must be (private_file.hpp)
}

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline unsigned file_mode(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) throw std::runtime_error("stat failed: " + p.string());
    return st.st_mode & 07777u;
}

inline std::string to_hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

struct process_result {
    int exit_code = -1;
    std::string out;
};

// Runs Debian's Python (the one with jupyter_client) with `-c script args...`
// through popen. The script must not contain single quotes; args should be
// shell-safe (hex strings, plain paths).
inline process_result run_python(const std::string& script, const std::vector<std::string>& args = {}) {
    if (script.find('\'') != std::string::npos) throw std::logic_error("script must not contain single quotes");
    std::string cmd = std::string(KB_TEST_PYTHON) + " -c '" + script + "'";
    for (const auto& a : args) {
        if (a.find('\'') != std::string::npos) throw std::logic_error("argument must not contain single quotes");
        cmd += " '" + a + "'";
    }
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) throw std::runtime_error("popen failed");
    process_result r;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
    int st = ::pclose(f);
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::string line;
    for (char c : text) {
        if (c == '\n') {
            out.push_back(line);
            line.clear();
        } else {
            line += c;
        }
    }
    if (!line.empty()) out.push_back(line);
    return out;
}

// Runs f and checks it throws exactly E (or a subclass) with a message that
// contains every one of `needles`.
template <class E, class F>
void require_throws_containing(F&& f, const std::vector<std::string>& needles) {
    try {
        f();
    } catch (const E& e) {
        std::string what = e.what();
        INFO("message: " << what);
        for (const auto& n : needles) CHECK_THAT(what, Catch::Contains(n));
        return;
    } catch (const std::exception& e) {
        FAIL("threw the wrong exception type: " << e.what());
    }
    FAIL("did not throw");
}

}  // namespace kb_test
