// The client's own stdin for a run (cli/server/client_stdin.cpp): taken
// from a real process whose fd 0 is a pipe or a file, refused when what is
// found there is not what the client described, or is a terminal.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "client_stdin.hpp"
#include "protocol.hpp"

using namespace ltest;

namespace {

// A child whose fd 0 is `fd`, waiting until killed: the client, as the server sees it.
pid_t client_with_stdin(int fd) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fd, 0);
        ::close(ready[0]);
        ::close(ready[1]);  // its EOF says: fd 0 is in place
        ::pause();
        ::_exit(0);
    }
    ::close(ready[1]);
    char c;
    while (::read(ready[0], &c, 1) > 0) {
    }
    ::close(ready[0]);
    return pid;
}

void end(pid_t pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

stdin_identity identity_of(int fd, std::int64_t offset = -1) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), offset};
}

}  // namespace

TEST_CASE("a client's piped stdin is the test process's: its bytes and its EOF", "[stdin]") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t client = client_with_stdin(p[0]);
    int fd = open_client_stdin(client, identity_of(p[0]));
    REQUIRE(fd >= 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    REQUIRE(::write(p[1], "abc", 3) == 3);
    ::close(p[1]);
    ::close(p[0]);
    end(client);  // the test process's copy holds on alone
    char buf[8];
    CHECK(::read(fd, buf, sizeof buf) == 3);
    CHECK(std::string(buf, 3) == "abc");
    CHECK(::read(fd, buf, sizeof buf) == 0);
    ::close(fd);
}

TEST_CASE("a client's file on stdin is read from the client's offset", "[stdin]") {
    char path[] = "/tmp/ltest-stdin-XXXXXX";
    int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    REQUIRE(::write(file, "xyz", 3) == 3);
    REQUIRE(::lseek(file, 1, SEEK_SET) == 1);
    pid_t client = client_with_stdin(file);
    int fd = open_client_stdin(client, identity_of(file, 1));
    end(client);
    ::unlink(path);
    REQUIRE(fd >= 0);
    char buf[8];
    CHECK(::read(fd, buf, sizeof buf) == 2);
    CHECK(std::string(buf, 2) == "yz");
    ::close(fd);
    ::close(file);
}

TEST_CASE("what the client did not describe is refused", "[stdin]") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pid_t client = client_with_stdin(p[0]);
    int other[2];
    REQUIRE(::pipe(other) == 0);
    CHECK(open_client_stdin(client, identity_of(other[0])) == -1);  // another process's stdin, say
    CHECK(open_client_stdin(0, identity_of(p[0])) == -1);
    end(client);
    CHECK(open_client_stdin(client, identity_of(p[0])) == -1);  // gone
    for (int fd : {p[0], p[1], other[0], other[1]}) ::close(fd);
}

TEST_CASE("a run request's stdin_file reads back, and a malformed one is refused with its name", "[stdin][wire]") {
    using nlohmann::json;
    json request = {{"args", json::array()}, {"cwd", "/p"}, {"env", json::object()},
                    {"stdin_file", {{"dev", 5}, {"ino", 77}, {"offset", -1}}}};
    auto spec = request.get<protocol::run_spec>();
    REQUIRE(spec.stdin_file);
    CHECK(*spec.stdin_file == std::array<std::int64_t, 3>{5, 77, -1});
    CHECK(json(spec)["stdin_file"] == request["stdin_file"]);
    request["stdin_file"] = {{"dev", 1.5}, {"ino", 1}};
    CHECK_THROWS_WITH(request.get<protocol::run_spec>(), Catch::Contains("dev"));
    request["stdin_file"] = "fd0";
    CHECK_THROWS_WITH(request.get<protocol::run_spec>(), Catch::Contains("stdin_file"));
}
