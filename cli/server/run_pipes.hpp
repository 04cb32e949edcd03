#pragma once
// A run's stdio, made by the server: a pty sized like the client's terminal
// for an output that is a terminal there (colour, width and isatty() as in
// the user's shell), else a pipe; a pipe for stdin and one for control
// messages from the test process ("I" wants a line of input, "X N" is its
// exit code). The server keeps its ends and reads them itself; the child's
// ends go to the kernel (handover_socket) and are closed here once sent.
#include <array>
#include <string>
#include <vector>

namespace ltest {

struct run_pipes {
    int out = -1, err = -1;  // read ends (pty masters or pipes)
    int in = -1;             // write end of the test process's stdin
    int ctl = -1;            // read end of the control pipe
    std::array<int, 4> child{-1, -1, -1, -1};  // stdin, stdout, stderr, control: the test process's ends

    // Throws std::system_error when the fds cannot be made (EMFILE...).
    // one_terminal: the client's stdout and stderr are the same terminal;
    // then the test process's are one pty too (err stays -1), so that what
    // it writes to each comes out in the order it wrote it, as on that
    // terminal (two ptys read by one loop cannot tell which came first).
    static run_pipes open(bool stdout_tty, bool stderr_tty, int columns, int lines, bool one_terminal = false);
    run_pipes() = default;
    run_pipes(run_pipes&& other) noexcept;
    run_pipes& operator=(run_pipes&& other) noexcept;
    run_pipes(const run_pipes&) = delete;
    run_pipes& operator=(const run_pipes&) = delete;
    ~run_pipes();

    void close_child_ends();
    void close_in();
    // fd (the client's own stdin, client_stdin.hpp) becomes the test
    // process's stdin in place of the pipe the server writes lines into.
    void use_stdin(int fd);
    static void close_fd(int& fd);
};

// Bytes read from a pipe, as text for a stream message (JSON must be UTF-8):
// a sequence cut at the end of one read is completed by the next; bytes that
// are not UTF-8 are escaped (byte_text.hpp), so the client writes exactly the
// bytes the test process wrote.
class utf8_text {
public:
    std::string decode(const char* data, std::size_t size);
    std::string finish();  // at EOF: an incomplete sequence's bytes, escaped

private:
    std::string pending_;
};

// Complete control lines from the bytes read so far (the rest stays in buffer).
std::vector<std::string> take_lines(std::string& buffer);

}  // namespace ltest
