#include "handover_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <kernel_bridge/private_file.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"

namespace ltest {
using nlohmann::json;

// As handover.py: request bytes per message after the header.
static constexpr std::size_t chunk = 32768;
// As handover.py's MAX_ANSWER: the longest report the kernel writes.
static constexpr std::size_t max_report = 65536;

handover_socket::handover_socket(std::filesystem::path path, std::string token)
    : path_(std::move(path)), token_(std::move(token)) {}

void handover_socket::listen() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.string().size() >= sizeof addr.sun_path)
        throw ltest_error(exit_code::startup, "runtime directory path too long for a socket: " + path_.string());
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    listen_fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw ltest_error(exit_code::startup, std::string("socket: ") + std::strerror(errno));
    kernel_bridge::ensure_private_dir(path_.parent_path());  // ours, and no one else can write there
    ::unlink(path_.c_str());  // a socket file left by a killed server of this port
    mode_t old = ::umask(0077);
    int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0 || ::listen(listen_fd_, 4) != 0)
        throw ltest_error(exit_code::startup, "cannot listen on " + path_.string() + ": " + std::strerror(errno));
}

handover_socket::~handover_socket() {
    drop_kernel();
    if (listen_fd_ < 0) return;  // never listened: the file (if any) is another server's
    ::close(listen_fd_);
    ::unlink(path_.c_str());
}

void handover_socket::drop_kernel() {
    if (kernel_fd_ >= 0) ::close(kernel_fd_);
    kernel_fd_ = -1;
    for (auto& p : outgoing_)
        for (int fd : p.fds) ::close(fd);
    outgoing_.clear();
}

void handover_socket::accept_kernel() {
    while (listen_fd_ >= 0) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        if (!is_our_kernel(fd)) {
            ::close(fd);
            continue;
        }
        drop_kernel();  // a restarted kernel replaces the old one
        kernel_fd_ = fd;
    }
}

// The kernel connects and says its hello in attach_server, which the server
// waits for before it accepts: the hello is there already, or it is not the kernel.
bool handover_socket::is_our_kernel(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::getuid()) {
        log::server().warn("refused a hand-over connection from uid {}", cred.uid);
        return false;
    }
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    std::string token;
    try {
        if (n > 0) token = json::parse(std::string(buf, static_cast<std::size_t>(n))).at("hello").get<std::string>();
    } catch (const json::exception&) {
    }
    if (token.size() != token_.size() || token_.empty() || sodium_memcmp(token.data(), token_.data(), token_.size()) != 0) {
        log::server().warn("refused a hand-over connection from pid {}: not this server's kernel (no hello with its token)",
                           cred.pid);
        return false;
    }
    return true;
}

void handover_socket::send_run(const std::string& id, const std::string& request_json, std::array<int, 4>& child_fds) {
    packet header{json{{"run", id}, {"size", request_json.size()}}.dump(), {}};
    for (int& fd : child_fds) {
        header.fds.push_back(fd);
        fd = -1;  // ours to close now
    }
    outgoing_.push_back(std::move(header));
    for (std::size_t at = 0; at < request_json.size(); at += chunk)
        outgoing_.push_back({request_json.substr(at, chunk), {}});
    flush();
}

void handover_socket::flush() {
    while (!outgoing_.empty() && kernel_fd_ >= 0) {
        packet& p = outgoing_.front();
        iovec iov{p.bytes.data(), p.bytes.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<char> control;
        if (!p.fds.empty()) {
            control.resize(CMSG_SPACE(sizeof(int) * p.fds.size()));
            msg.msg_control = control.data();
            msg.msg_controllen = control.size();
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * p.fds.size());
            std::memcpy(CMSG_DATA(c), p.fds.data(), sizeof(int) * p.fds.size());
        }
        if (::sendmsg(kernel_fd_, &msg, MSG_NOSIGNAL) < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            log::kernel().warn("hand-over socket: {}", std::strerror(errno));
            drop_kernel();
            return;
        }
        for (int fd : p.fds) ::close(fd);
        outgoing_.pop_front();
    }
}

kernel_reports handover_socket::read_reports() {
    kernel_reports out;
    static thread_local std::vector<char> buf(max_report);
    while (kernel_fd_ >= 0) {
        ssize_t n = ::recv(kernel_fd_, buf.data(), buf.size(), MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (n <= 0) {  // the kernel is gone (its death is handled elsewhere)
            drop_kernel();
            break;
        }
        if (static_cast<std::size_t>(n) > buf.size()) {
            log::kernel().warn("dropped a hand-over report of {} bytes", n);
            continue;
        }
        try {
            json j = json::parse(std::string(buf.data(), static_cast<std::size_t>(n)));
            if (j.contains("taken")) {
                taken_run t;
                t.id = j.at("taken").get<std::string>();
                if (j.contains("error")) t.error = j.at("error").get<std::string>();
                else t.result = j.at("result");
                out.taken.push_back(std::move(t));
            } else if (j.contains("learned")) {
                out.learned = std::move(j);
            } else {
                out.reaped.push_back({j.at("reaped").get<int>(), j.at("exit_code").get<int>()});
            }
        } catch (const json::exception& e) {
            log::kernel().warn("dropped an odd hand-over report: {}", e.what());
        }
    }
    return out;
}

}  // namespace ltest
