#pragma once
// Flags a pytest user types before `--` (`ltest -v`, `ltest -k normalize
// tests/`): in a run they are pytest's, in the order typed, ahead of what
// follows `--`; a flag neither ltest's nor one of these gets one line saying
// exactly what to type instead, and a typo of an ltest flag its nearest one.
#include <string>
#include <vector>

namespace ltest {

struct ltest_flag {
    std::string name;  // "-p", "--port"
    bool takes_value = false;
};

struct split_words {
    std::vector<std::string> ltest;   // for ltest's own parser
    std::vector<std::string> pytest;  // pytest's, in the order typed
    std::string foreign;              // the first word neither ltest's nor a pytest flag passed on ("" if none)
};

// Is this a run (not -l, --status, --stop, --forget, --help, --version)?
bool is_run(const std::vector<std::string>& words);

// Splits the words before `--` of a run: ltest's flags (with their values),
// the pytest flags passed on (-v, -q, -x, -s, -k EXPR, -m EXPR, -p PLUGIN
// when not a port number, --lf, --ff, paths), and anything else, which goes in `pytest` too but is named in
// `foreign`: the caller says what to type instead.
split_words split_run_words(const std::vector<std::string>& words, const std::vector<ltest_flag>& known);

// The flag of `known` nearest to `typed` by edit distance (at most 2, and
// less than half its length), or "" when none is that close.
std::string nearest_flag(const std::string& typed, const std::vector<ltest_flag>& known);

}  // namespace ltest
