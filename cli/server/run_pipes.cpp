#include "run_pipes.hpp"

#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace ltest {

void run_pipes::close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

static void nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }
static void cloexec(int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

static void make_pipe(int& read_end, int& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    read_end = fds[0];
    write_end = fds[1];
}

// (server's end, test process's end) for one output stream.
static void make_output(bool tty, int columns, int lines, int& ours, int& theirs) {
    if (!tty) {
        make_pipe(ours, theirs);
        return;
    }
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(columns > 0 ? columns : 80);
    ws.ws_row = static_cast<unsigned short>(lines > 0 ? lines : 24);
    if (::openpty(&ours, &theirs, nullptr, nullptr, &ws) != 0)
        throw std::system_error(errno, std::generic_category(), "openpty");
    termios t{};
    if (::tcgetattr(theirs, &t) == 0) {
        t.c_oflag &= ~OPOST;  // no \n -> \r\n: the bytes stay as the test wrote them
        ::tcsetattr(theirs, TCSANOW, &t);
    }
    cloexec(ours);
    cloexec(theirs);
}

run_pipes run_pipes::open(bool stdout_tty, bool stderr_tty, int columns, int lines, bool one_terminal) {
    run_pipes p;
    make_output(stdout_tty, columns, lines, p.out, p.child[1]);
    if (one_terminal && stdout_tty && stderr_tty) {
        p.child[2] = ::fcntl(p.child[1], F_DUPFD_CLOEXEC, 0);
        if (p.child[2] < 0) throw std::system_error(errno, std::generic_category(), "dup");
    } else {
        make_output(stderr_tty, columns, lines, p.err, p.child[2]);
    }
    make_pipe(p.child[0], p.in);
    make_pipe(p.ctl, p.child[3]);
    for (int fd : {p.out, p.err, p.ctl, p.in})
        if (fd >= 0) nonblocking(fd);
    return p;
}

run_pipes::run_pipes(run_pipes&& o) noexcept { *this = std::move(o); }

run_pipes& run_pipes::operator=(run_pipes&& o) noexcept {
    if (this != &o) {
        this->~run_pipes();
        out = std::exchange(o.out, -1);
        err = std::exchange(o.err, -1);
        in = std::exchange(o.in, -1);
        ctl = std::exchange(o.ctl, -1);
        child = std::exchange(o.child, {-1, -1, -1, -1});
    }
    return *this;
}

run_pipes::~run_pipes() {
    for (int* fd : {&out, &err, &in, &ctl}) close_fd(*fd);
    close_child_ends();
}

void run_pipes::close_child_ends() {
    for (int& fd : child) close_fd(fd);
}

void run_pipes::close_in() { close_fd(in); }

void run_pipes::use_stdin(int fd) {
    close_fd(in);
    close_fd(child[0]);
    child[0] = fd;
}

// Length of the UTF-8 sequence starting with lead byte c, 0 if c cannot lead.
static int sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

// Whether s[i..i+n) is a valid sequence of length n (no overlongs, surrogates or > U+10FFFF).
static bool valid_sequence(const std::string& s, std::size_t i, int n) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    for (int k = 1; k < n; ++k)
        if ((b(k) & 0xC0) != 0x80) return false;
    if (n == 3 && b(0) == 0xE0 && b(1) < 0xA0) return false;
    if (n == 3 && b(0) == 0xED && b(1) >= 0xA0) return false;
    if (n == 4 && b(0) == 0xF0 && b(1) < 0x90) return false;
    if (n == 4 && b(0) == 0xF4 && b(1) >= 0x90) return false;
    return true;
}

std::string utf8_text::decode(const char* data, std::size_t size) {
    static const std::string replacement = "\xEF\xBF\xBD";
    std::string in = std::move(pending_);
    pending_.clear();
    in.append(data, size);
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        int n = sequence_length(static_cast<unsigned char>(in[i]));
        if (n == 1) {
            out += in[i++];
            continue;
        }
        if (n > 0 && i + n > in.size()) {  // cut by the end of this read?
            bool prefix_ok = true;
            for (std::size_t k = i + 1; k < in.size(); ++k)
                if ((static_cast<unsigned char>(in[k]) & 0xC0) != 0x80) prefix_ok = false;
            if (prefix_ok) {
                pending_ = in.substr(i);
                break;
            }
        }
        if (n > 0 && i + n <= in.size() && valid_sequence(in, i, n)) {
            out.append(in, i, n);
            i += n;
        } else {
            out += replacement;
            ++i;
        }
    }
    return out;
}

std::string utf8_text::finish() {
    std::string out = pending_.empty() ? "" : "\xEF\xBF\xBD";
    pending_.clear();
    return out;
}

std::vector<std::string> take_lines(std::string& buffer) {
    std::vector<std::string> lines;
    std::size_t start = 0, nl;
    while ((nl = buffer.find('\n', start)) != std::string::npos) {
        lines.push_back(buffer.substr(start, nl - start));
        start = nl + 1;
    }
    buffer.erase(0, start);
    return lines;
}

}  // namespace ltest
