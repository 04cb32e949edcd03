#pragma once
// What a Python has, asked once when a kernel is to be started on it: one
// short `PYTHON -c ...` that imports nothing it checks (find_spec and the
// distributions' metadata only). An interpreter that cannot serve gets one
// line naming it, what is missing and the command that installs it, before
// any kernel is started (never a kernel_info timeout).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "python_choice.hpp"

namespace ltest {

struct python_facts {
    std::string python;                    // as chosen (the path the kernel is started with)
    std::string executable, prefix, version;
    std::optional<std::string> pytest, ipykernel, pyzmq;  // versions ("?" if unknown), nullopt if absent
    bool externally_managed = false;       // PEP 668: pip refuses to install into it
};

// Runs the probe. Throws ltest_error(startup) when the interpreter does not run or answers nonsense.
python_facts probe_python(const std::string& python);

// Why this interpreter cannot serve ltest's kernel, with the command that
// fixes it; "" when it can. `root`: the project root (a uv project's
// .venv gets `uv add --dev ...`).
std::string python_problem(const python_facts& f, const std::filesystem::path& root);

// The command that installs `packages` into the interpreter (uv add --dev in
// a uv project's .venv, uv pip in another uv-made venv, apt for Debian's
// own Python, else PYTHON -m pip install).
std::string install_command(const python_facts& f, const std::filesystem::path& root,
                            const std::vector<std::string>& packages);

struct chosen_python {
    python_facts facts;
    std::vector<std::string> skipped;  // from PATH: the python3s before it that have no pytest
};

// The interpreter of a choice, probed: the single candidate, or the first
// python3 on PATH that has pytest. Throws ltest_error(startup) with
// python_problem's line when it cannot serve.
chosen_python settle_python(const python_choice& choice, const std::filesystem::path& root);

}  // namespace ltest
