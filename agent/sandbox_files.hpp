// Reading sandboxes for /files/read and /files/browse without being led out
// of them. Tasks own their sandboxes and may swap any file for a symlink at
// any moment, so a path checked and then opened again can point elsewhere by
// the time it is opened (a task running as nobody read /etc/shadow that way).
// Here nothing is opened twice: every component is opened relative to the
// one before with O_NOFOLLOW (a symlink anywhere is refused), the file or
// directory is checked with fstat on the descriptor that is then read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace caldera {

/// Why a sandbox path cannot be served (HTTP status and message).
struct sandbox_refusal {
  int status = 0; // 0: none
  std::string message;
};

/// `path` (absolute under `root`, or relative to it) as components below
/// `root`; a refusal (403) if it leaves `root` lexically (.., another root).
std::vector<std::string> sandbox_components(const std::string& root, const std::string& path,
                                            sandbox_refusal& why);

struct file_chunk {
  std::string data;
  int64_t offset = 0; // where `data` starts (clamped to the size)
  int64_t size = 0;   // the file's size
};

/// Reads up to `length` bytes at `offset` (-1: none, just the size) of the
/// regular file `parts` below `root`. A symlink on the way: a 403 refusal;
/// a directory, a FIFO, a device or nothing there: a 404.
file_chunk read_beneath(const std::string& root, const std::vector<std::string>& parts,
                        int64_t offset, int64_t length, sandbox_refusal& why);

struct dir_entry {
  std::string name;
  bool dir = false;
  bool link = false;
  uint64_t size = 0;
};

/// The entries of the directory `parts` below `root` (symlinks listed as
/// links, never followed; one on the way is a 403 refusal).
std::vector<dir_entry> list_beneath(const std::string& root, const std::vector<std::string>& parts,
                                    sandbox_refusal& why);

} // namespace caldera
