// Files in a runtime directory another user might share (kernel_bridge
// private_file): a planted symlink is never written through, and a file that
// is a symlink, not ours, or readable by others is refused.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/private_file.hpp>

#include "test_support.hpp"

using namespace kernel_bridge;
using kb_test::temp_dir;
using kb_test::write_text;

namespace {
std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("create_private_file never writes through a planted symlink", "[private_file]") {
    temp_dir dir;
    write_text(dir / "victim", "precious\n");
    std::filesystem::create_symlink(dir / "victim", dir / "ltest-kernel-1.log");
    int fd = create_private_file(dir / "ltest-kernel-1.log");
    REQUIRE(::write(fd, "log\n", 4) == 4);
    ::close(fd);
    CHECK(read_all(dir / "victim") == "precious\n");
    CHECK(read_all(dir / "ltest-kernel-1.log") == "log\n");
    CHECK_FALSE(std::filesystem::is_symlink(dir / "ltest-kernel-1.log"));
    struct stat st {};
    REQUIRE(::stat((dir / "ltest-kernel-1.log").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a private file is refused when a symlink or readable by others", "[private_file]") {
    temp_dir dir;
    write_text(dir / "f.json", "{}");
    ::chmod((dir / "f.json").c_str(), 0600);
    CHECK(private_file_problem(dir / "f.json").empty());
    CHECK(read_private_file(dir / "f.json") == "{}");
    ::chmod((dir / "f.json").c_str(), 0644);
    CHECK(private_file_problem(dir / "f.json").find("0644") != std::string::npos);
    CHECK_THROWS_AS(read_private_file(dir / "f.json"), bad_file);
    ::chmod((dir / "f.json").c_str(), 0600);
    std::filesystem::create_symlink(dir / "f.json", dir / "link.json");
    CHECK(private_file_problem(dir / "link.json") == "a symbolic link");
    ::mkfifo((dir / "fifo").c_str(), 0600);
    CHECK(private_file_problem(dir / "fifo") == "not a regular file");  // and the open did not block
}
