#include "kernel_keeper.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

static constexpr auto retry_every = seconds(5);

wake_event::wake_event() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw ltest_error(exit_code::startup, std::string("eventfd: ") + std::strerror(errno));
}

wake_event::~wake_event() { ::close(fd_); }

void wake_event::clear() {
    std::uint64_t count;
    if (::read(fd_, &count, sizeof count) < 0) {}  // EAGAIN: nothing was written since
}

void kernel_keeper::on_thread(std::function<void()> work) {
    thread_ = std::async(std::launch::async, [work = std::move(work), fd = wake_fd_] {
        auto wake = [fd] {
            std::uint64_t one = 1;
            if (fd >= 0 && ::write(fd, &one, sizeof one) < 0) {}  // a full counter wakes the loop as well
        };
        try {
            work();
        } catch (...) {
            wake();
            throw;
        }
        wake();
    });
}

void kernel_keeper::start() {
    on_thread([&k = kernel_] { k.start(); });
}

void kernel_keeper::lend(std::function<void()> work, std::function<void(std::exception_ptr)> done) {
    before_ = kernel_.status();
    lent_ = true;
    done_ = std::move(done);
    on_thread(std::move(work));
}

void kernel_keeper::wait() {
    if (thread_.valid()) thread_.get();
}

void kernel_keeper::tick(const std::function<void(const std::string&)>& died, const std::function<void()>& restarted,
                         const std::function<void(const std::string&)>& failed) {
    if (thread_.valid()) {
        if (thread_.wait_for(seconds(0)) != std::future_status::ready) return;
        if (lent_) {
            lent_ = false;
            std::exception_ptr error;
            try {
                thread_.get();
            } catch (...) {
                error = std::current_exception();
            }
            auto done = std::move(done_);
            done_ = nullptr;
            if (done) done(error);
            return;
        }
        try {
            thread_.get();
            log::kernel().info("gateway kernel {} is warm again", kernel_.gateway_kernel_id());
            if (restarted) restarted();
            last_try_ = steady_clock::now();
        } catch (const std::exception& e) {
            log::kernel().error("restart failed: {}; retried in {} s", e.what(), duration_cast<seconds>(retry_every).count());
            last_try_ = steady_clock::now();  // the next attempt counts from this one's end
            if (failed) failed(e.what());
        }
        return;
    }
    if (kernel_.usable() && kernel_.alive()) return;
    if (kernel_.usable()) {
        std::string why = kernel_.death_reason();
        log::kernel().warn("{}; restarting it", why);
        if (died) died(why);
        kernel_.stop();  // not usable until restarted
    }
    auto now = steady_clock::now();
    if (now - last_try_ < retry_every) return;
    last_try_ = now;
    before_ = kernel_.status();
    on_thread([&k = kernel_] { k.restart(); });
}

json kernel_keeper::status() const {
    if (!thread_.valid()) return kernel_.status();
    json s = before_;  // the thread owns the kernel
    if (s.contains("gateway") && s["gateway"].is_object()) s["gateway"]["state"] = lent_ ? "syncing" : "restarting";
    return s;
}

}  // namespace ltest
