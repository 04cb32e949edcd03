#include "pytest_flags.hpp"

#include <algorithm>

namespace ltest {

bool is_run(const std::vector<std::string>& words) {
    for (const auto& w : words)
        if (w == "-l" || w == "--listen" || w == "--status" || w == "--stop" || w == "--forget" || w == "-h" ||
            w == "--help" || w == "-V" || w == "--version")
            return false;
    return true;
}

// pytest's flags a user types out of habit, passed on as they are. -n is
// ltest's own (collect once, fork workers), as pytest-xdist's means.
static bool pytest_flag(const std::string& w) {
    static const std::vector<std::string> plain{"-x", "-s", "--lf", "--ff", "--last-failed", "--failed-first",
                                                "--exitfirst", "--sw", "--stepwise", "--showlocals"};
    if (std::find(plain.begin(), plain.end(), w) != plain.end()) return true;
    // -v, -vv, -q, -qq: pytest's verbosity (ltest's log levels are a server's: ltest -l -v)
    return w.size() >= 2 && w[0] == '-' && (w.find_first_not_of('v', 1) == std::string::npos ||
                                            w.find_first_not_of('q', 1) == std::string::npos);
}

static const ltest_flag* find_flag(const std::string& name, const std::vector<ltest_flag>& known) {
    for (const auto& f : known)
        if (f.name == name) return &f;
    return nullptr;
}

split_words split_run_words(const std::vector<std::string>& words, const std::vector<ltest_flag>& known) {
    split_words out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        // -k EXPR, -m EXPR (a marker expression: ltest's -m is a server's, `ltest -l -m MODULE`)
        if (w == "-k" || w == "-m") {
            out.pytest.push_back(w);
            if (i + 1 < words.size()) out.pytest.push_back(words[++i]);
            continue;
        }
        if ((w.rfind("-k", 0) == 0 || w.rfind("-m", 0) == 0) && w.size() > 2 && w[1] != '-') {
            out.pytest.push_back(w);  // -kEXPR
            continue;
        }
        // A port is a number (ltest's -p refuses a bad one); a word is a plugin (pytest's -p xdist, -p no:cov).
        bool port = i + 1 < words.size() && (words[i + 1].empty() || words[i + 1][0] == '-' ||
                                             words[i + 1].find_first_not_of("0123456789.") == std::string::npos);
        if (w == "-p" && i + 1 < words.size() && !port) {  // -p no:cacheprovider: pytest's plugin flag, not a port
            out.pytest.push_back(w);
            out.pytest.push_back(words[++i]);
            continue;
        }
        if (w.empty() || w[0] != '-' || w == "-") {  // a path, or a node id
            out.pytest.push_back(w);
            continue;
        }
        std::string name = w.substr(0, w.find('='));
        if (w != "-v" && w != "-q" && name != "--verbose" && name != "--quiet") {
            if (const ltest_flag* f = find_flag(name, known)) {
                out.ltest.push_back(w);
                if (f->takes_value && name == w && i + 1 < words.size()) out.ltest.push_back(words[++i]);
                continue;
            }
        }
        if (pytest_flag(w) || name == "--verbose" || name == "--quiet") {
            out.pytest.push_back(w);
            continue;
        }
        if (out.foreign.empty()) out.foreign = w;
        out.pytest.push_back(w);
    }
    return out;
}

static std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string nearest_flag(const std::string& typed, const std::vector<ltest_flag>& known) {
    std::string name = typed.substr(0, typed.find('='));
    if (name.rfind("--", 0) != 0) return "";
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& f : known) {
        if (f.name.rfind("--", 0) != 0) continue;
        std::size_t d = edit_distance(name, f.name);
        if (d < best_distance && d * 2 < name.size() - 2) {
            best = f.name;
            best_distance = d;
        }
    }
    return best;
}

}  // namespace ltest
