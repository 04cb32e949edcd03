#pragma once
// Files that hold a key or are written where another user might plant one
// (a shared runtime directory): never followed through a symbolic link, never
// truncated in place when not ours, and checked before they are believed.
#include <filesystem>
#include <string>

namespace kernel_bridge {

// Writes text owner-only (0600) and atomically (temp file + rename), in a
// directory that ensure_private_dir accepts. Throws bad_file.
void write_private_file(const std::filesystem::path& path, const std::string& text);

// A directory fit to hold keys and sockets: created owner-only (0700, with
// its missing parents) when missing; else it must be a directory owned by
// this user that group and others cannot write (another user could plant a
// socket or runtime file there, or replace ours). Never changes the mode of a
// directory it did not create. Throws bad_file: one line naming the
// directory and the fix.
void ensure_private_dir(const std::filesystem::path& dir);

// A new, empty owner-only file at `path`, open for writing (O_CLOEXEC): what
// was there is unlinked first and the file created with O_EXCL|O_NOFOLLOW, so
// a file or symlink planted by someone else is never written through (where
// it cannot be unlinked, the create fails). Returns the fd; throws bad_file.
int create_private_file(const std::filesystem::path& path);

// Why `path` is not to be trusted as a private file of this user, or "" if it
// is: opened with O_NOFOLLOW (a symlink is refused), a regular file, owned by
// this user, no access for group or others.
std::string private_file_problem(const std::filesystem::path& path);

// The text of a private file; throws bad_file naming it and the problem.
std::string read_private_file(const std::filesystem::path& path);

}  // namespace kernel_bridge
