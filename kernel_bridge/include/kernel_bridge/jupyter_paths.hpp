#pragma once
// The directories jupyter_core.paths uses, in the same order.
#include <filesystem>
#include <vector>

namespace kernel_bridge {

// $JUPYTER_RUNTIME_DIR, else <data dir>/runtime (~/.local/share/jupyter/runtime),
// as jupyter_core 4.x does on Linux ($XDG_RUNTIME_DIR is not used).
std::filesystem::path jupyter_runtime_dir();
// As jupyter_core.paths.jupyter_path() in the interpreter whose sys.prefix
// is `env_prefix` (empty: none known): $JUPYTER_PATH entries, the user data
// dir (~/.local/share/jupyter), <env_prefix>/share/jupyter unless it is a
// system dir, then the system data dirs ({/usr/local,/usr}/share/jupyter).
// The environment's dir comes before the user's when JUPYTER_PREFER_ENV_PATH
// says so, or (unset) when env_prefix is a virtualenv (jupyter_core 5).
std::vector<std::filesystem::path> jupyter_data_path(const std::filesystem::path& env_prefix = {});

}  // namespace kernel_bridge
