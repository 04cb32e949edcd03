// The server's run parts without a kernel: a run's phases and output
// accounting, the UTF-8 decoding of output, control lines, client liveness
// from /proc, a run's real pipes and ptys, and the hand-over socket with a
// peer that plays the kernel.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "byte_text.hpp"
#include "client_liveness.hpp"
#include "handover_socket.hpp"
#include "run.hpp"
#include "run_output.hpp"
#include "run_pipes.hpp"
#include "run_signals.hpp"

using namespace ltest;

TEST_CASE("a run goes through named phases and counts what waits for its client", "[run]") {
    run r;
    CHECK(r.phase() == run_phase::queued);
    r.set_phase(run_phase::handing_over);
    r.set_phase(run_phase::running);
    CHECK(std::string(phase_name(r.phase())) == "running");
    CHECK(r.may_read_output());
    r.queue({"id", std::string(max_buffered_output - 10, 'x')});
    CHECK(r.may_read_output());
    r.queue({std::string(20, 'y')});
    CHECK_FALSE(r.may_read_output());  // its test process's writes now wait for the client
    CHECK(r.outbox.size() == 2);
}

TEST_CASE("output is UTF-8 for the stream message, whatever the reads cut, and loses no byte", "[run]") {
    utf8_text t;
    std::string euro = "\xE2\x82\xAC";
    CHECK(t.decode(euro.data(), 1).empty());      // the sequence waits for the next read
    CHECK(t.decode(euro.data() + 1, 2) == euro);  // and is whole then
    CHECK(t.decode("a\xFF" "b", 3) == std::string("a\0ff" "b", 5));  // not UTF-8: escaped (byte_text.hpp)
    CHECK(t.decode("\xED\xA0\x80", 3) == std::string("\0ed\0a0\0" "80", 9));  // a surrogate is not UTF-8
    CHECK(t.decode("x\0y", 3) == std::string("x\0" "00y", 5));  // NUL marks the escape: escaped itself
    CHECK(t.decode("\xF0\x9F", 2).empty());
    CHECK(t.finish() == std::string("\0f0\0" "9f", 6));  // cut by EOF: its bytes
    CHECK(t.finish().empty());
    std::string all;  // every byte value, read a byte at a time: the client gets them all back
    for (int b = 0; b < 256; ++b) {
        char c = static_cast<char>(b);
        all += t.decode(&c, 1);
    }
    all += t.finish();
    std::string bytes;
    for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
    CHECK(text_to_bytes(all) == bytes);
    CHECK(nlohmann::json::parse(nlohmann::json(all).dump()).get<std::string>() == all);  // valid JSON text
}

TEST_CASE("control lines are taken whole, the rest waits", "[run]") {
    std::string buffer = "I\nX 0";
    CHECK(take_lines(buffer) == std::vector<std::string>{"I"});
    CHECK(buffer == "X 0");
    buffer += "\n";
    CHECK(take_lines(buffer) == std::vector<std::string>{"X 0"});
    CHECK(buffer.empty());
}

TEST_CASE("a client's state is read from /proc/PID/stat", "[liveness]") {
    CHECK(parse_proc_stat("12 (ltest) S 1 12 12") == process_state::alive);
    CHECK(parse_proc_stat("12 (a (weird) name) T 1 12") == process_state::stopped);
    CHECK(parse_proc_stat("12 (ltest) t 1") == process_state::stopped);
    CHECK(parse_proc_stat("12 (ltest) Z 1") == process_state::gone);
    CHECK(parse_proc_stat("garbage") == process_state::gone);
    CHECK(state_of(::getpid()) == process_state::alive);
    CHECK(state_of(0) == process_state::gone);
    CHECK_FALSE(this_host_id().empty());
}

TEST_CASE("a run's pipes carry bytes from the test process's ends to the server's", "[run]") {
    run_pipes p = run_pipes::open(false, true, 97, 31);
    REQUIRE(p.out >= 0);
    REQUIRE(p.err >= 0);
    CHECK_FALSE(::isatty(p.child[1]));
    CHECK(::isatty(p.child[2]));  // stderr is a terminal at the client: a pty
    REQUIRE(write_some(p.child[1], "hello\n"));
    chunk c = read_chunk(p.out);
    CHECK(c.bytes == "hello\n");
    CHECK(read_chunk(p.out).bytes.empty());  // nothing more, not EOF
    REQUIRE(write_some(p.in, "line\n"));
    char buf[16] = {};
    CHECK(::read(p.child[0], buf, sizeof buf) == 5);
    p.close_child_ends();
    CHECK(read_chunk(p.out).eof);
    CHECK(read_chunk(p.err).eof);  // a pty whose other side closed: EIO, taken as EOF
}

TEST_CASE("one terminal at the client is one pty for the test process's stdout and stderr", "[run]") {
    run_pipes p = run_pipes::open(true, true, 80, 24, true);
    REQUIRE(p.out >= 0);
    CHECK(p.err == -1);  // one output: what is written to either comes out in the order written
    REQUIRE(::isatty(p.child[1]));
    struct stat out {}, err {};
    REQUIRE(::fstat(p.child[1], &out) == 0);
    REQUIRE(::fstat(p.child[2], &err) == 0);
    CHECK(out.st_rdev == err.st_rdev);
    REQUIRE(write_some(p.child[1], "out 1\n"));
    REQUIRE(write_some(p.child[2], "err 1\n"));
    REQUIRE(write_some(p.child[1], "out 2\n"));
    std::string got;
    for (int i = 0; i < 100 && got.size() < 18; ++i) {
        pollfd pf{p.out, POLLIN, 0};
        ::poll(&pf, 1, 100);
        got += read_chunk(p.out).bytes;
    }
    CHECK(got == "out 1\nerr 1\nout 2\n");
    run_pipes two = run_pipes::open(true, false, 80, 24, true);  // stderr not a terminal: two outputs
    CHECK(two.err >= 0);
    CHECK_FALSE(::isatty(two.child[2]));
}

namespace {

// The kernel's end of the hand-over socket at `path`.
// Connects as handover.py does; `hello`: its first message (the server's token), none if empty.
int connect_as_kernel(const std::filesystem::path& path, const std::string& hello = "{\"hello\": \"tok\"}") {
    int kernel = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(kernel, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    if (!hello.empty()) REQUIRE(::send(kernel, hello.data(), hello.size(), 0) == static_cast<ssize_t>(hello.size()));
    return kernel;
}

// A run's first message as the kernel reads it: the JSON header, and the
// four fds passed with it into `fds`.
nlohmann::json receive_with_fds(int kernel, int (&fds)[4]) {
    char buf[65536];
    iovec iov{buf, sizeof buf};
    char control[CMSG_SPACE(sizeof fds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(kernel, &msg, 0);
    REQUIRE(n > 0);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    REQUIRE(c != nullptr);
    std::memcpy(fds, CMSG_DATA(c), sizeof fds);
    return nlohmann::json::parse(std::string(buf, static_cast<std::size_t>(n)));
}

}  // namespace

TEST_CASE("the hand-over socket gives a run's request and fds to the kernel", "[handover]") {
    auto dir = std::filesystem::temp_directory_path() / ("ltest-unit-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    handover_socket h(dir / "h.sock", "tok");
    h.listen();
    CHECK_FALSE(h.connected());

    // Strangers first: no hello, junk, a wrong token. Each is closed; none becomes the kernel.
    int silent = connect_as_kernel(h.path(), "");
    int junk = connect_as_kernel(h.path(), "\x01junk");
    int wrong = connect_as_kernel(h.path(), "{\"hello\": \"tak\"}");
    h.accept_kernel();
    CHECK_FALSE(h.connected());
    for (int s : {silent, junk, wrong}) {
        char b;
        CHECK(::recv(s, &b, 1, 0) == 0);  // closed on it
        ::close(s);
    }

    int kernel = connect_as_kernel(h.path());
    int late = connect_as_kernel(h.path(), "");  // after the kernel: refused, the kernel kept
    h.accept_kernel();
    REQUIRE(h.connected());
    int kernel_fd = h.kernel_fd();
    ::close(late);
    h.accept_kernel();
    CHECK(h.kernel_fd() == kernel_fd);

    run_pipes p = run_pipes::open(false, false, 80, 24);
    std::string request(70000, 'r');  // more than one message's worth
    h.send_run("run-1", request, p.child);
    CHECK(p.child[0] == -1);  // the server's copies are gone once sent

    int fds[4] = {-1, -1, -1, -1};
    auto header = receive_with_fds(kernel, fds);
    CHECK(header.at("run") == "run-1");
    CHECK(header.at("size") == request.size());
    char buf[65536];
    std::size_t got = 0;
    while (got < request.size()) {
        ssize_t m = ::recv(kernel, buf, sizeof buf, 0);
        REQUIRE(m > 0);
        got += static_cast<std::size_t>(m);
    }
    CHECK(got == request.size());
    REQUIRE(::write(fds[1], "out", 3) == 3);  // the test process's stdout reaches the server
    CHECK(read_chunk(p.out).bytes == "out");

    std::string taken = R"({"taken": "run-1", "result": {"pid": 7, "spare": true}})";
    std::string failed = R"({"taken": "run-2", "error": "OSError: no fork"})";
    std::string report = R"({"reaped": 42, "exit_code": 139})";
    std::string long_one(70000, ' ');  // longer than any report: dropped, logged
    for (const auto* m : {&taken, &failed, &report, &long_one})
        REQUIRE(::send(kernel, m->data(), m->size(), 0) > 0);
    REQUIRE(::send(kernel, "junk", 4, 0) > 0);  // dropped, logged
    auto reports = h.read_reports();
    REQUIRE(reports.reaped.size() == 1);
    CHECK(reports.reaped[0].pid == 42);
    CHECK(reports.reaped[0].exit_code == 139);
    REQUIRE(reports.taken.size() == 2);
    CHECK(reports.taken[0].id == "run-1");
    CHECK(reports.taken[0].result.at("pid") == 7);
    CHECK_FALSE(reports.taken[0].error);
    CHECK(reports.taken[1].id == "run-2");
    CHECK(reports.taken[1].error == std::optional<std::string>("OSError: no fork"));
    CHECK(h.connected());  // odd reports do not end the connection

    for (int fd : fds) ::close(fd);
    ::close(kernel);
    h.read_reports();
    CHECK_FALSE(h.connected());  // the kernel went away
    std::filesystem::remove_all(dir);
}

TEST_CASE("Ctrl-C reaches a run's test process and every process its tests started in its group", "[run]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t leader = ::fork();
    REQUIRE(leader >= 0);
    if (leader == 0) {  // the test process: its own group, one child of its own in it
        ::setpgid(0, 0);
        pid_t member = ::fork();
        if (member == 0) {
            ::pause();
            ::_exit(0);
        }
        (void)!::write(fds[1], &member, sizeof member);
        ::pause();
        ::_exit(0);
    }
    ::close(fds[1]);
    pid_t member = 0;
    REQUIRE(::read(fds[0], &member, sizeof member) == static_cast<ssize_t>(sizeof member));
    ::close(fds[0]);
    interrupt_run_group(leader);
    int status = 0;
    REQUIRE(::waitpid(leader, &status, 0) == leader);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGINT);
    // The member is not our child: it is gone once kill(pid, 0) fails (or it is a zombie awaiting init).
    bool gone = false;
    for (int i = 0; i < 10000 && !gone; ++i) {
        std::ifstream stat("/proc/" + std::to_string(member) + "/stat");
        std::string line;
        gone = !std::getline(stat, line) || line.find(") Z ") != std::string::npos;
        if (!gone) ::usleep(1000);
    }
    CHECK(gone);
}
