// The MapReduce jobs themselves, free of actors: splitting input, the map and
// reduce functions (word count, grep), output files and a direct count to
// check results against.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace caldera::hadoop {

enum class job_kind { wordcount, grep };

struct split {
  uint32_t id = 0;
  std::string file;      // absolute path
  uint64_t offset = 0;   // starts at a line start
  uint64_t length = 0;   // ends at a line end (or the file's end)
};

/// Splits every regular file of `dir` (sorted by name) into pieces of about
/// `split_bytes`, cut at line ends. Fails naming the directory.
caf::expected<std::vector<split>> make_splits(const std::string& dir, uint64_t split_bytes);

/// Reads a placement file: lines "FILE HOST[,HOST...]" ('#' comments),
/// FILE a name inside the input directory. Fails naming the line.
caf::expected<std::map<std::string, std::vector<std::string>>>
read_placement(const std::string& path);

using counts = std::map<std::string, uint64_t>;

/// Runs the map function over one split (with a combiner): word -> count,
/// or match -> count for grep. Fails if the file cannot be read or the
/// pattern is not a valid regex.
caf::expected<counts> run_map(job_kind kind, const std::string& pattern, const split& s);

/// The reducer a key belongs to (stable across processes: FNV-1a).
uint32_t partition_of(const std::string& key, uint32_t reducers);

/// Writes `part-r-NNNNN` (lines "KEY\tCOUNT", keys sorted) atomically.
caf::error write_part(const std::string& dir, uint32_t partition, const counts& c);

/// Reads back every part file of `dir`.
caf::expected<counts> read_output(const std::string& dir);

/// The job's result computed directly, for checking.
caf::expected<counts> count_directly(job_kind kind, const std::string& pattern,
                                     const std::string& input_dir);

} // namespace caldera::hadoop
