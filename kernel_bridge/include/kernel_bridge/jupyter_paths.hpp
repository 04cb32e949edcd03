#pragma once
// The directories jupyter_core.paths uses, in the same order.
#include <filesystem>
#include <vector>

namespace kernel_bridge {

// $JUPYTER_RUNTIME_DIR, else <data dir>/runtime (~/.local/share/jupyter/runtime),
// as jupyter_core 4.x does on Linux ($XDG_RUNTIME_DIR is not used).
std::filesystem::path jupyter_runtime_dir();
// $JUPYTER_PATH entries, ~/.local/share/jupyter, then the system data dirs
// ({/usr/local,/usr}/share/jupyter), as jupyter_core.paths.jupyter_path().
std::vector<std::filesystem::path> jupyter_data_path();

}  // namespace kernel_bridge
