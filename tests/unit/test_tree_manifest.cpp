// tree_manifest: the client's project tree named by content (the server's
// side of the tree sync; the kernel's side, tree_sync.py, lists by the same
// rules: tests/python/test_tree_sync.py checks it on the same trees).
#include <sys/stat.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include "tree_manifest.hpp"

using kb_test::temp_dir;
using kb_test::write_text;

namespace {
std::vector<std::string> names(const ltest::tree& t) {
    std::vector<std::string> out;
    for (const auto& [rel, f] : t.files) out.push_back(rel);
    return out;
}
}  // namespace

TEST_CASE("sha256 of bytes as hex", "[tree_sync]") {
    CHECK(ltest::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("outside git the walk skips pytest's norecursedirs, caches and virtualenvs", "[tree_sync]") {
    temp_dir t;
    for (const char* f : {"pkg/mod.py", "tests/test_a.py", ".coveragerc", ".git/config", ".tox/x.py", "build/lib/x.py",
                          "dist/x.whl", "node_modules/x.js", "venv/lib/x.py", "pkg/__pycache__/mod.cpython-311.pyc",
                          "pkg/old.pyc", "a.egg-info/PKG-INFO", "env2/pyvenv.cfg", "env2/lib/x.py", "pkg/.ltest-sync-abc"})
        write_text(t / f, "");
    ltest::tree_manifest m;
    ltest::tree tree = m.make(t.path());
    CHECK_FALSE(tree.git);
    CHECK(names(tree) == std::vector<std::string>{".coveragerc", "pkg/mod.py", "tests/test_a.py"});
}

TEST_CASE("a git checkout: tracked files with their changes and untracked ones git does not ignore", "[tree_sync]") {
    temp_dir t;
    write_text(t / "tracked.py", "1");
    write_text(t / ".gitignore", "ignored.py\n");
    write_text(t / "ignored.py", "");
    write_text(t / "new.py", "");
    write_text(t / "sub/deep.py", "");
    std::string dir = t.path().string();
    REQUIRE(std::system(("git init -q '" + dir + "' && git -C '" + dir + "' add tracked.py .gitignore").c_str()) == 0);
    write_text(t / "tracked.py", "changed, not committed");
    ltest::tree_manifest m;
    ltest::tree tree = m.make(t.path());
    CHECK(tree.git);
    CHECK(names(tree) == std::vector<std::string>{".gitignore", "new.py", "sub/deep.py", "tracked.py"});
    CHECK(tree.files["tracked.py"].sha256 == ltest::sha256_hex("changed, not committed"));
    CHECK(names(m.make(t / "sub")) == std::vector<std::string>{"deep.py"});
}

TEST_CASE("an unchanged tree is not read again; an edit changes the tree's hash", "[tree_sync]") {
    temp_dir t;
    write_text(t / "a.py", "a");
    write_text(t / "b.py", "b");
    ::chmod((t / "b.py").c_str(), 0700);
    ltest::tree_manifest m;
    ltest::tree first = m.make(t.path());
    CHECK(m.hashed_last() == 2);
    CHECK(first.files["b.py"].exec);
    CHECK_FALSE(first.files["a.py"].exec);
    ltest::tree again = m.make(t.path());
    CHECK(m.hashed_last() == 0);
    CHECK(again.hash == first.hash);
    write_text(t / "a.py", "edited");
    ltest::tree edited = m.make(t.path());
    CHECK(m.hashed_last() == 1);
    CHECK(edited.hash != first.hash);
    CHECK(edited.files["a.py"].sha256 == ltest::sha256_hex("edited"));
}
