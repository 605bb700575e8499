#include "frameworks/hadoop_like/job.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "actors/error.hpp"

namespace caldera::hadoop {

namespace fs = std::filesystem;

caf::expected<std::vector<split>> make_splits(const std::string& dir, uint64_t split_bytes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return make_error(errc::invalid_config, "input '" + dir + "' is not a directory");
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec))
      files.push_back(fs::absolute(e.path(), ec));
  if (ec)
    return make_error(errc::invalid_config, "cannot list '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<split> out;
  split_bytes = std::max<uint64_t>(split_bytes, 1);
  for (auto& f : files) {
    std::ifstream in{f, std::ios::binary};
    if (!in)
      return make_error(errc::invalid_config, "cannot read '" + f.string() + "'");
    std::string all{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    uint64_t pos = 0;
    while (pos < all.size()) {
      uint64_t end = std::min<uint64_t>(pos + split_bytes, all.size());
      // Extend to the end of the line.
      while (end < all.size() && all[end - 1] != '\n')
        ++end;
      out.push_back(split{static_cast<uint32_t>(out.size()), f.string(), pos, end - pos});
      pos = end;
    }
  }
  return out;
}

caf::expected<std::map<std::string, std::vector<std::string>>>
read_placement(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::invalid_config, "cannot read placement file '" + path + "'");
  std::map<std::string, std::vector<std::string>> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.resize(hash);
    std::istringstream ls{line};
    std::string file, hosts, extra;
    if (!(ls >> file))
      continue;
    if (!(ls >> hosts) || (ls >> extra))
      return make_error(errc::invalid_config, path + ":" + std::to_string(n)
                                                + ": expected 'FILE HOST[,HOST...]'");
    std::string h;
    std::istringstream hs{hosts};
    while (std::getline(hs, h, ','))
      if (!h.empty())
        out[file].push_back(h);
  }
  return out;
}

namespace {

caf::expected<std::string> read_range(const split& s) {
  std::ifstream in{s.file, std::ios::binary};
  if (!in)
    return make_error(errc::invalid_config, "cannot read '" + s.file + "'");
  in.seekg(static_cast<std::streamoff>(s.offset));
  std::string buf(s.length, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(s.length));
  buf.resize(static_cast<size_t>(in.gcount()));
  return buf;
}

void count_text(job_kind kind, const std::regex* re, const std::string& text, counts& c) {
  if (kind == job_kind::wordcount) {
    std::string word;
    for (char ch : text) {
      auto u = static_cast<unsigned char>(ch);
      if (std::isalnum(u)) {
        word += static_cast<char>(std::tolower(u));
      } else if (!word.empty()) {
        ++c[word];
        word.clear();
      }
    }
    if (!word.empty())
      ++c[word];
    return;
  }
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line))
    for (std::sregex_iterator i{line.begin(), line.end(), *re}, e; i != e; ++i)
      if (i->length() > 0)
        ++c[i->str()];
}

caf::expected<std::regex> compile(const std::string& pattern) {
  try {
    return std::regex{pattern, std::regex::ECMAScript};
  } catch (const std::regex_error& e) {
    return make_error(errc::invalid_config,
                      "pattern '" + pattern + "' is not a valid regex: " + e.what());
  }
}

} // namespace

caf::expected<counts> run_map(job_kind kind, const std::string& pattern, const split& s) {
  auto text = read_range(s);
  if (!text)
    return text.error();
  counts c;
  if (kind == job_kind::grep) {
    auto re = compile(pattern);
    if (!re)
      return re.error();
    count_text(kind, &*re, *text, c);
  } else {
    count_text(kind, nullptr, *text, c);
  }
  return c;
}

uint32_t partition_of(const std::string& key, uint32_t reducers) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : key) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % std::max<uint32_t>(reducers, 1));
}

caf::error write_part(const std::string& dir, uint32_t partition, const counts& c) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  char name[32];
  std::snprintf(name, sizeof(name), "part-r-%05u", partition);
  auto final_path = fs::path{dir} / name;
  auto tmp = fs::path{dir} / (std::string{"."} + name + ".tmp");
  {
    std::ofstream out{tmp, std::ios::trunc};
    for (auto& [k, v] : c)
      out << k << '\t' << v << '\n';
    if (!out)
      return make_error(errc::storage_error, "cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, final_path, ec);
  if (ec)
    return make_error(errc::storage_error,
                      "cannot rename to '" + final_path.string() + "': " + ec.message());
  return caf::none;
}

caf::expected<counts> read_output(const std::string& dir) {
  counts c;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind("part-r-", 0) != 0)
      continue;
    std::ifstream in{e.path()};
    std::string line;
    while (std::getline(in, line)) {
      auto tab = line.rfind('\t');
      if (tab == std::string::npos)
        return make_error(errc::invalid_message, "bad line in " + e.path().string());
      c[line.substr(0, tab)] += std::stoull(line.substr(tab + 1));
    }
  }
  if (ec)
    return make_error(errc::invalid_config, "cannot list '" + dir + "': " + ec.message());
  return c;
}

caf::expected<counts> count_directly(job_kind kind, const std::string& pattern,
                                     const std::string& input_dir) {
  auto splits = make_splits(input_dir, uint64_t{1} << 40);
  if (!splits)
    return splits.error();
  counts all;
  for (auto& s : *splits) {
    auto c = run_map(kind, pattern, s);
    if (!c)
      return c.error();
    for (auto& [k, v] : *c)
      all[k] += v;
  }
  return all;
}

} // namespace caldera::hadoop
