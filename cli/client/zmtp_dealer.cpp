#include "zmtp_dealer.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "ip_address.hpp"
#include "protocol.hpp"

namespace ltest {
using namespace std::chrono;

namespace zmtp {

namespace {
constexpr unsigned char flag_more = 0x01, flag_long = 0x02, flag_command = 0x04;

std::string frame_header(unsigned char flags, std::size_t size) {
    std::string out;
    if (size > 255) {
        out += static_cast<char>(flags | flag_long);
        for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xff);
    } else {
        out += static_cast<char>(flags);
        out += static_cast<char>(size);
    }
    return out;
}

std::uint32_t read_u32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
    return v;
}
}  // namespace

std::string greeting(const std::string& mechanism) {
    std::string g(64, '\0');
    g[0] = '\xff';
    g[8] = '\x01';  // padding as libzmq sends it (a ZMTP 1.0 identity length of 1)
    g[9] = '\x7f';
    g[10] = 3;  // version 3.0
    g[11] = 0;
    std::memcpy(&g[12], mechanism.data(), std::min<std::size_t>(mechanism.size(), 20));
    g[32] = 0;  // as-server: no
    return g;
}

std::string command(const std::string& name, const std::string& data) {
    std::string body = static_cast<char>(name.size()) + name + data;
    return frame_header(flag_command, body.size()) + body;
}

namespace {
std::string socket_type_property(const std::string& socket_type) {
    std::string property = static_cast<char>(11) + std::string("Socket-Type");
    for (int shift = 24; shift >= 0; shift -= 8) property += static_cast<char>((socket_type.size() >> shift) & 0xff);
    return property + socket_type;
}
}  // namespace

std::string ready_command(const std::string& socket_type) { return command("READY", socket_type_property(socket_type)); }

std::string initiate_command(const std::string& socket_type) {
    return command("INITIATE", socket_type_property(socket_type));
}

std::string hello_command(const std::string& username, const std::string& password) {
    if (username.size() > 255 || password.size() > 255) throw ltest_error(exit_code::internal, "PLAIN credentials over 255 bytes");
    return command("HELLO", static_cast<char>(username.size()) + username + static_cast<char>(password.size()) + password);
}

std::string encode_message(const std::vector<std::string>& frames) {
    std::string out;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        out += frame_header(i + 1 < frames.size() ? flag_more : 0, frames[i].size());
        out += frames[i];
    }
    return out;
}

std::optional<frame> take_frame(std::string& buffer, std::size_t max_bytes) {
    if (buffer.size() < 2) return std::nullopt;
    auto flags = static_cast<unsigned char>(buffer[0]);
    if (flags & ~(flag_more | flag_long | flag_command))
        throw ltest_error(exit_code::protocol, "bad ZMTP frame from the server (reserved flags set)");
    std::size_t header = 2;
    std::uint64_t size = static_cast<unsigned char>(buffer[1]);
    if (flags & flag_long) {
        header = 9;
        if (buffer.size() < header) return std::nullopt;
        size = 0;
        for (std::size_t i = 1; i < 9; ++i) size = (size << 8) | static_cast<unsigned char>(buffer[i]);
    }
    if (size > max_bytes) throw ltest_error(exit_code::protocol, "a message from the server is too large");
    if (buffer.size() - header < size) return std::nullopt;
    frame f{(flags & flag_more) != 0, (flags & flag_command) != 0, buffer.substr(header, size)};
    buffer.erase(0, header + size);
    return f;
}

void message_assembler::add(std::string body) {
    std::size_t cost = body.size() + frame_overhead;
    if (cost > max_bytes_ - held_bytes_) throw ltest_error(exit_code::protocol, "a message from the server is too large");
    held_bytes_ += cost;
    partial_.push_back(std::move(body));
}

std::vector<std::string> message_assembler::finish() {
    std::vector<std::string> out;
    out.swap(partial_);
    held_bytes_ = 0;
    return out;
}

void check_greeting(const std::string& g, const std::string& mechanism) {
    if (g.size() < 64 || static_cast<unsigned char>(g[0]) != 0xff || (g[9] & 1) != 1)
        throw ltest_error(exit_code::protocol, "the server does not speak ZeroMQ (bad greeting)");
    if (g[10] < 3) throw ltest_error(exit_code::protocol, "the server speaks an old ZeroMQ protocol (ZMTP < 3)");
    if (std::string(g.data() + 12, 20).c_str() != mechanism)
        throw ltest_error(exit_code::protocol, "the server asks for a ZeroMQ security mechanism other than " + mechanism +
                                                   " (an ltest server of another version?)");
}

std::string command_name(const std::string& body) {
    if (body.empty() || body.size() < 1u + static_cast<unsigned char>(body[0])) return "";
    return body.substr(1, static_cast<unsigned char>(body[0]));
}

std::string ready_socket_type(const std::string& body) {
    std::size_t at = 1 + command_name(body).size();
    while (at < body.size()) {
        std::size_t name_len = static_cast<unsigned char>(body[at]);
        if (at + 1 + name_len + 4 > body.size()) break;
        std::string name = body.substr(at + 1, name_len);
        std::uint32_t value_len = read_u32(body, at + 1 + name_len);
        std::size_t value_at = at + 1 + name_len + 4;
        if (value_len > body.size() - value_at) break;
        if (strcasecmp(name.c_str(), "Socket-Type") == 0) return body.substr(value_at, value_len);
        at = value_at + value_len;
    }
    return "";
}

bool is_ready(const frame& f) {
    if (!f.command) throw ltest_error(exit_code::protocol, "the server sent a message before its READY");
    std::string name = command_name(f.body);
    if (name == "ERROR") {  // name, then a 1-byte length and the reason
        std::size_t at = 1 + name.size() + 1;
        std::string reason = f.body.size() > at ? f.body.substr(at, static_cast<unsigned char>(f.body[at - 1])) : "";
        if (reason == "400")  // its ZAP handler: not the password of its key
            throw ltest_error(exit_code::protocol, "the server refused this client's key (is the runtime file another server's?)");
        throw ltest_error(exit_code::protocol, "the server refused the connection: " + reason);
    }
    if (name != "READY") return false;
    std::string type = ready_socket_type(f.body);
    if (type != "ROUTER")
        throw ltest_error(exit_code::protocol, "the server's socket is a " + (type.empty() ? "?" : type) + ", not a ROUTER");
    return true;
}

}  // namespace zmtp

namespace {

int wait_for(int fd, short events, milliseconds timeout) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<milliseconds::rep>(0, timeout.count())));
    if (n < 0 && errno != EINTR) throw ltest_error(exit_code::internal, std::string("poll: ") + std::strerror(errno));
    return n > 0 ? p.revents : 0;
}

// No name lookup: the client is a static executable, and glibc's resolver
// would need the shared NSS modules.
sockaddr_storage address_of(const std::string& host, int port) {
    auto address = connect_address(host, port);
    if (!address)
        throw ltest_error(exit_code::usage, "'" + host + "' is not an IP address: give the server's address as one (--ip)");
    return *address;
}

// A connected, non-blocking TCP socket to host:port, or -1 with errno set.
int connect_tcp(const std::string& host, int port, milliseconds timeout) {
    sockaddr_storage address = address_of(host, port);
    socklen_t length = address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : ::connect(fd, reinterpret_cast<sockaddr*>(&address), length);
    if (rc < 0 && errno == EINPROGRESS) {
        int err = 0;
        socklen_t len = sizeof err;
        if (wait_for(fd, POLLOUT, timeout) == 0) {
            err = ETIMEDOUT;
        } else {
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
        rc = err ? -1 : 0;
        errno = err;
    }
    if (rc < 0) {
        int saved = errno;
        if (fd >= 0) ::close(fd);
        errno = saved;
        return -1;
    }
    int one = 1;  // small requests must not wait for the previous one's ACK (Nagle)
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

}  // namespace

zmtp_dealer::zmtp_dealer(const std::string& host, int port, milliseconds timeout, std::size_t max_message_bytes,
                         const std::string& password)
    : endpoint_(tcp_endpoint(host, port)), max_bytes_(max_message_bytes), plain_(!password.empty()), messages_(max_message_bytes) {
    fd_ = connect_tcp(host, port, timeout);
    if (fd_ < 0)
        throw ltest_error(exit_code::no_server, "cannot connect to the ltest server at " + endpoint_ + ": " +
                                                    std::strerror(errno));
    // Sent now, the server's answer read before the first send: the client
    // builds its request meanwhile. (Not with the first message, which would
    // save a round trip: libzmq 4.3.4 never delivered a message sent along
    // with the greeting, seen against a real ROUTER.)
    // PLAIN: the HELLO goes with the greeting; the INITIATE must wait for the WELCOME.
    write_all(plain_ ? zmtp::greeting("PLAIN") + zmtp::hello_command(protocol::connect_username, password)
                     : zmtp::greeting() + zmtp::ready_command("DEALER"));
    handshake_timeout_ = timeout;
}

bool zmtp_dealer::handshake(steady_clock::time_point deadline) {
    auto left = [&] { return duration_cast<milliseconds>(deadline - steady_clock::now()); };
    while (!greeted_ && in_.size() < 64)
        if (!read_some(left())) return false;
    if (!greeted_) {
        zmtp::check_greeting(in_.substr(0, 64), plain_ ? "PLAIN" : "NULL");
        in_.erase(0, 64);
        greeted_ = true;
    }
    while (true) {
        auto f = zmtp::take_frame(in_, max_bytes_);
        if (!f) {
            if (!read_some(left())) return false;
            continue;
        }
        if (plain_ && !welcomed_ && f->command) {
            // The only answers to a HELLO are WELCOME and ERROR. libzmq 4.3.4
            // garbles its ERROR's name ("^RROR"), so anything else is the refusal.
            if (zmtp::command_name(f->body) != "WELCOME")
                throw ltest_error(exit_code::protocol,
                                  "the server refused this client's key (is the runtime file another server's?)");
            welcomed_ = true;
            write_all(zmtp::initiate_command("DEALER"));
            continue;
        }
        if (zmtp::is_ready(*f)) {
            ready_ = true;
            return true;
        }
    }
}

zmtp_dealer::~zmtp_dealer() {
    if (fd_ >= 0) ::close(fd_);
}

void zmtp_dealer::write_all(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            wait_for(fd_, POLLOUT, milliseconds(1000));
        } else {
            throw ltest_error(exit_code::no_server, "the ltest server at " + endpoint_ + " went away (" +
                                                        std::strerror(errno) + ")");
        }
    }
}

bool zmtp_dealer::read_some(milliseconds timeout) {
    char buf[65536];
    while (true) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
            return true;
        }
        if (n == 0) throw ltest_error(exit_code::no_server, "the ltest server at " + endpoint_ + " closed the connection");
        if (errno == EINTR) return false;
        if (errno != EAGAIN)
            throw ltest_error(exit_code::no_server, "the ltest server at " + endpoint_ + " went away (" +
                                                        std::strerror(errno) + ")");
        if (wait_for(fd_, POLLIN, timeout) == 0) return false;  // timeout or a signal
        timeout = milliseconds(0);  // readable now: one more recv, no further wait
    }
}

std::optional<std::vector<std::string>> zmtp_dealer::take_message() {
    return messages_.take(in_, [this](const std::string& body) {
        // ZMTP 3.1 heartbeats, if the server ever turns them on: answer PING with PONG.
        if (zmtp::command_name(body) == "PING" && body.size() >= 7)  // name, 2-byte TTL, context
            write_all(zmtp::command("PONG", body.substr(7)));
    });
}

std::optional<std::vector<std::string>> zmtp_dealer::receive(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    if (!ready_ && !handshake(deadline)) return std::nullopt;
    while (true) {
        if (auto m = take_message()) return m;
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
        if (!read_some(left)) return std::nullopt;
    }
}

void zmtp_dealer::send(const std::vector<std::string>& frames) {
    if (!ready_ && !handshake(steady_clock::now() + handshake_timeout_))
        throw ltest_error(exit_code::no_server, "the ltest server at " + endpoint_ + " does not answer");
    write_all(zmtp::encode_message(frames));
}

}  // namespace ltest
