#pragma once
// The server's runtime file kept in place while it serves. Clients find the
// server (and its key) only through that file: if it is removed (a cleaned
// runtime directory, a deleted tmp dir), it is written again within
// check_interval. If it cannot be written (a full disk, a read-only
// directory), that is a warning, not the server's end: it keeps serving those
// who have the key, and tries again.
#include <chrono>
#include <optional>

#include "runtime_file.hpp"

namespace ltest {

class runtime_file_keeper {
public:
    static constexpr std::chrono::milliseconds check_interval{250};

    // Writes the file for `info` (and remembers it); false with a warning if it could not.
    bool write(const server_info& info);
    // Cheap; call often: rewrites the file when it is gone or not what was written.
    void check();

private:
    std::optional<server_info> info_;
    std::chrono::steady_clock::time_point next_check_{};
    bool warned_ = false;  // one warning per failure streak, not one per check
};

}  // namespace ltest
