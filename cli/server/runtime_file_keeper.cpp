#include "runtime_file_keeper.hpp"

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/private_file.hpp>

#include "log.hpp"

namespace ltest {
using namespace std::chrono;
using nlohmann::json;

bool runtime_file_keeper::write(const server_info& info) {
    info_ = info;
    try {
        write_runtime_file(info);
        if (warned_) log::server().info("wrote {} again", runtime_file_path(info.port).string());
        warned_ = false;
        return true;
    } catch (const std::exception& e) {
        if (!warned_)
            log::server().warn("{}; clients cannot find this server until it is written (retrying)", e.what());
        warned_ = true;
        return false;
    }
}

void runtime_file_keeper::check() {
    auto now = steady_clock::now();
    if (!info_ || now < next_check_) return;
    next_check_ = now + check_interval;
    auto path = runtime_file_path(info_->port);
    std::string text;
    try {
        text = kernel_bridge::read_private_file(path);
    } catch (const kernel_bridge::bad_file&) {  // gone, replaced by a symlink, another owner, wrong mode
    }
    if (!text.empty() && json::parse(text, nullptr, false) == json(*info_)) return;
    if (!warned_) log::server().warn("{} is missing or changed; writing it again", path.string());
    write(*info_);
}

}  // namespace ltest
