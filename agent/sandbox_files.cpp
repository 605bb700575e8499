#include "agent/sandbox_files.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace caldera {

namespace fs = std::filesystem;

namespace {

// Closes a descriptor when it goes out of scope.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {
  }
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

// `p` below `root` (lexically, both normal and absolute), or false.
bool strip_root(const fs::path& root, const fs::path& p, fs::path& rel) {
  auto r = root.string();
  while (r.size() > 1 && r.back() == '/')
    r.pop_back();
  auto s = p.string();
  if (s == r) {
    rel.clear();
    return true;
  }
  if (s.rfind(r + "/", 0) != 0)
    return false;
  rel = s.substr(r.size() + 1);
  return true;
}

// openat without following a symlink; a symlink there fails with ELOOP
// (O_DIRECTORY alone would say ENOTDIR).
int openat_nofollow(int dir, const std::string& name, int flags) {
  int fd = ::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  int saved = errno;
  struct stat st{};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    saved = ELOOP;
  errno = saved;
  return -1;
}

// Opens the directory `parts[0..n)` below `root`, one component at a time,
// following no symlink. -1 with errno on failure.
int open_dir_chain(const std::string& root, const std::vector<std::string>& parts, size_t n) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (size_t i = 0; i < n && fd >= 0; ++i) {
    int next = openat_nofollow(fd, parts[i], O_PATH | O_DIRECTORY);
    int saved = errno;
    ::close(fd);
    errno = saved;
    fd = next;
  }
  return fd;
}

// Opens the last component of `parts` below `root` with `flags` (plus
// O_NOFOLLOW). -1 with errno on failure.
int open_beneath(const std::string& root, const std::vector<std::string>& parts, int flags) {
  if (parts.empty())
    return ::open(root.c_str(), flags | O_CLOEXEC);
  fd_guard dir{open_dir_chain(root, parts, parts.size() - 1)};
  if (dir.fd < 0)
    return -1;
  return openat_nofollow(dir.fd, parts.back(), flags);
}

sandbox_refusal through_link() {
  return {403, "the path leads through a symlink (sandbox reads follow none)"};
}

} // namespace

std::vector<std::string> sandbox_components(const std::string& root, const std::string& path,
                                            sandbox_refusal& why) {
  fs::path rel = path;
  if (rel.is_absolute()) {
    auto p = rel.lexically_normal();
    std::error_code ec;
    auto canon_root = fs::weakly_canonical(root, ec);
    if (!strip_root(fs::path{root}.lexically_normal(), p, rel)
        && (ec || !strip_root(canon_root, p, rel))) {
      why = {403, "path is outside the sandboxes"};
      return {};
    }
  }
  std::vector<std::string> parts;
  for (auto& c : rel.lexically_normal()) {
    auto s = c.string();
    if (s.empty() || s == "." || s == "/")
      continue;
    if (s == "..") {
      why = {403, "path is outside the sandboxes"};
      return {};
    }
    parts.push_back(s);
  }
  return parts;
}

file_chunk read_beneath(const std::string& root, const std::vector<std::string>& parts,
                        int64_t offset, int64_t length, sandbox_refusal& why) {
  file_chunk out;
  // O_NONBLOCK: a FIFO a task left there must not hang the reader.
  fd_guard f{open_beneath(root, parts, O_RDONLY | O_NONBLOCK)};
  struct stat st{};
  if (f.fd < 0 && errno == ELOOP) {
    why = through_link();
    return out;
  }
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = {404, "no such file"};
    return out;
  }
  out.size = st.st_size;
  out.offset = offset < 0 ? out.size : std::min<int64_t>(offset, out.size);
  if (offset < 0)
    return out;
  out.data.resize(static_cast<size_t>(std::max<int64_t>(length, 0)));
  size_t got = 0;
  while (got < out.data.size()) {
    auto n = ::pread(f.fd, out.data.data() + got, out.data.size() - got,
                     static_cast<off_t>(out.offset) + static_cast<off_t>(got));
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  out.data.resize(got);
  return out;
}

std::vector<dir_entry> list_beneath(const std::string& root, const std::vector<std::string>& parts,
                                    sandbox_refusal& why) {
  std::vector<dir_entry> out;
  int fd = open_beneath(root, parts, O_RDONLY | O_DIRECTORY);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (d == nullptr) {
    why = fd < 0 && errno == ELOOP ? through_link() : sandbox_refusal{404, "no such directory"};
    if (fd >= 0)
      ::close(fd);
    return out;
  }
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    struct stat st{};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    out.push_back(dir_entry{name, S_ISDIR(st.st_mode), S_ISLNK(st.st_mode),
                            S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const dir_entry& a, const dir_entry& b) { return a.name < b.name; });
  return out;
}

} // namespace caldera
