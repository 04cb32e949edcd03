#pragma once
// Helpers for the option and configuration tests: parse a command line as
// `ltest` gets it, in a working directory of the test's choosing (the
// options read [tool.ltest] from the cwd upward), with stdout captured.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "test_support.hpp"

namespace options_test {
namespace fs = std::filesystem;

// Changes the working directory, restoring the old one on exit.
class cwd_guard {
public:
    explicit cwd_guard(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
    ~cwd_guard() {
        std::error_code ec;
        fs::current_path(old_, ec);
    }
    cwd_guard(const cwd_guard&) = delete;
    cwd_guard& operator=(const cwd_guard&) = delete;

private:
    fs::path old_;
};

// Sends std::cout to a string while it lives.
class captured_stdout {
public:
    captured_stdout() : old_(std::cout.rdbuf(text_.rdbuf())) {}
    ~captured_stdout() { std::cout.rdbuf(old_); }
    captured_stdout(const captured_stdout&) = delete;
    captured_stdout& operator=(const captured_stdout&) = delete;
    std::string str() const { return text_.str(); }

private:
    std::ostringstream text_;
    std::streambuf* old_;
};

// parse_options over {"ltest", args...}, run in the current directory.
inline std::optional<ltest::options> parse(std::vector<std::string> args) {
    args.insert(args.begin(), "ltest");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return ltest::parse_options(static_cast<int>(args.size()), argv.data());
}

// The ltest_error a command line gives; fails the test when it parses.
inline ltest::ltest_error parse_error(const std::vector<std::string>& args) {
    try {
        captured_stdout quiet;
        parse(args);
    } catch (const ltest::ltest_error& e) {
        return e;
    }
    FAIL("parsed without an error");
    throw std::logic_error("unreachable");
}

// A temp directory with no pyproject.toml above it, as the working directory.
class in_empty_dir {
public:
    in_empty_dir() : cwd_(dir_.path()) {
        // A pyproject.toml with [tool.ltest] above $TMPDIR would change every default.
        REQUIRE_FALSE(ltest::find_project_config(dir_.path()));
    }
    const fs::path& path() const { return dir_.path(); }

private:
    kb_test::temp_dir dir_;
    cwd_guard cwd_;
};

}  // namespace options_test
