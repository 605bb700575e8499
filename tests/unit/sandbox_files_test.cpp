// Sandbox reads never leave the sandbox: no symlink is followed, nothing is
// checked and then opened again (agent/sandbox_files.hpp).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "agent/sandbox_files.hpp"

using namespace caldera;
namespace fs = std::filesystem;

namespace {

struct sandbox_dir {
  fs::path root;
  fs::path outside;
  sandbox_dir() {
    char tmpl[] = "/tmp/caldera-files-XXXXXX";
    fs::path base = ::mkdtemp(tmpl);
    root = base / "slaves";
    outside = base / "secret";
    fs::create_directories(root / "fw" / "run");
    std::ofstream{outside} << "TOP SECRET";
    std::ofstream{root / "fw" / "run" / "stdout"} << "hello from the task\n";
  }
  ~sandbox_dir() {
    std::error_code ec;
    fs::remove_all(root.parent_path(), ec);
  }
};

std::vector<std::string> parts_of(const sandbox_dir& s, const std::string& path) {
  sandbox_refusal why;
  auto parts = sandbox_components(s.root.string(), path, why);
  REQUIRE(why.status == 0);
  return parts;
}

} // namespace

TEST_SUITE("unit") {

TEST_CASE("sandbox paths: absolute under the root or relative; .. and other roots refused") {
  sandbox_dir s;
  sandbox_refusal why;
  CHECK(sandbox_components(s.root.string(), (s.root / "fw/run/stdout").string(), why)
        == std::vector<std::string>{"fw", "run", "stdout"});
  CHECK(sandbox_components(s.root.string(), "fw/./run/stdout", why).size() == 3);
  CHECK(why.status == 0);
  sandbox_components(s.root.string(), "fw/../../secret", why);
  CHECK(why.status == 403);
  why = {};
  sandbox_components(s.root.string(), "/etc/passwd", why);
  CHECK(why.status == 403);
  why = {};
  sandbox_components(s.root.string(), s.root.string() + "x/fw", why);
  CHECK(why.status == 403);
}

TEST_CASE("sandbox reads: a file is read at an offset; symlinks, directories and FIFOs are not") {
  sandbox_dir s;
  auto root = s.root.string();
  sandbox_refusal why;
  auto chunk = read_beneath(root, parts_of(s, "fw/run/stdout"), 6, 4, why);
  CHECK(why.status == 0);
  CHECK(chunk.data == "from");
  CHECK(chunk.size == 20);
  chunk = read_beneath(root, parts_of(s, "fw/run/stdout"), -1, 10, why);
  CHECK(chunk.data.empty());
  CHECK(chunk.offset == 20);

  fs::create_symlink(s.outside, s.root / "fw" / "run" / "leak");
  read_beneath(root, parts_of(s, "fw/run/leak"), 0, 100, why);
  CHECK(why.status == 403);
  why = {};
  fs::create_directory_symlink(s.root.parent_path(), s.root / "fw" / "up");
  read_beneath(root, parts_of(s, "fw/up/secret"), 0, 100, why);
  CHECK(why.status == 403);
  why = {};
  read_beneath(root, parts_of(s, "fw/run"), 0, 100, why);
  CHECK(why.status == 404);
  why = {};
  REQUIRE(::mkfifo((s.root / "fw" / "run" / "pipe").c_str(), 0600) == 0);
  read_beneath(root, parts_of(s, "fw/run/pipe"), 0, 100, why);
  CHECK(why.status == 404);

  why = {};
  auto entries = list_beneath(root, parts_of(s, "fw/run"), why);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "leak");
  CHECK(entries[0].link);
  CHECK(entries[2].name == "stdout");
  CHECK(entries[2].size == 20);
  list_beneath(root, parts_of(s, "fw/up"), why);
  CHECK(why.status == 403);
}

TEST_CASE("sandbox reads: a file swapped for a symlink while being read never leaks the target") {
  sandbox_dir s;
  auto file = s.root / "fw" / "run" / "out";
  auto link = s.root / "fw" / "run" / "out.link";
  auto plain = s.root / "fw" / "run" / "out.plain";
  std::ofstream{plain} << "harmless";
  fs::create_symlink(s.outside, link);
  std::atomic<bool> stop{false};
  // The task's side: swaps the file and the symlink as fast as it can.
  std::thread swapper([&] {
    fs::copy_file(plain, file);
    for (bool to_link = true; !stop; to_link = !to_link) {
      auto tmp = s.root / "fw" / "run" / (to_link ? "t.link" : "t.plain");
      std::error_code ec;
      if (to_link)
        fs::create_symlink(s.outside, tmp, ec);
      else
        fs::copy_file(plain, tmp, fs::copy_options::overwrite_existing, ec);
      fs::rename(tmp, file, ec);
    }
  });
  auto parts = parts_of(s, "fw/run/out");
  int leaked = 0, served = 0;
  for (int i = 0; i < 4000; ++i) {
    sandbox_refusal why;
    auto chunk = read_beneath(s.root.string(), parts, 0, 100, why);
    leaked += chunk.data.find("SECRET") != std::string::npos;
    served += why.status == 0;
  }
  stop = true;
  swapper.join();
  CHECK(leaked == 0);
  CHECK(served > 0);
}

}
