#include "run_pipes.hpp"

#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "byte_text.hpp"

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
static std::size_t sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

std::string utf8_text::decode(const char* data, std::size_t size) {
    std::string in = std::move(pending_);
    pending_.clear();
    in.append(data, size);
    // A sequence cut by the end of this read waits for the next one, so that
    // the message carries it as text rather than as escaped bytes.
    std::size_t stop = in.size() > 3 ? in.size() - 3 : 0;
    for (std::size_t i = in.size(); i-- > stop;) {
        auto c = static_cast<unsigned char>(in[i]);
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        std::size_t n = sequence_length(c);
        if (n > 1 && i + n > in.size()) {
            pending_ = in.substr(i);
            in.resize(i);
        }
        break;
    }
    return bytes_to_text(in);
}

std::string utf8_text::finish() {
    std::string out = bytes_to_text(pending_);  // cut by EOF: the bytes as they are
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
