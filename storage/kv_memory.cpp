#include "storage/kv.hpp"

#include "actors/error.hpp"

namespace caldera {

class memory_store : public kv_store {
public:
  memory_store(std::shared_ptr<memory_disk> disk, std::string dir, std::string what)
    : disk_(std::move(disk)), dir_(std::move(dir)), what_(std::move(what)) {
  }

  caf::error write(const std::vector<kv_op>& ops, bool) override {
    for (auto& [prefix, n] : disk_->failing_)
      if (n > 0 && dir_.rfind(prefix, 0) == 0) {
        --n;
        ++disk_->failed_;
        return make_error(errc::storage_error,
                          what_ + " write failed: IO error: No space left on device ('" + dir_
                            + "', simulated)");
      }
    auto& recs = disk_->volumes_[dir_].records;
    for (auto& op : ops)
      if (op.value)
        recs[op.key] = op.value;
      else
        recs.erase(op.key);
    return caf::none;
  }

  caf::error scan(const visitor& f) override {
    for (auto& [key, value] : disk_->volumes_[dir_].records) {
      auto bytes = value->asBytes();
      if (auto err = f(key, reinterpret_cast<const char*>(bytes.begin()), bytes.size()))
        return err;
    }
    return caf::none;
  }

private:
  std::shared_ptr<memory_disk> disk_;
  std::string dir_;
  std::string what_;
};

caf::expected<std::unique_ptr<kv_store>> memory_disk::open(const std::string& dir,
                                                           const std::string& what) {
  volumes_[dir];
  return std::unique_ptr<kv_store>{new memory_store(shared_from_this(), dir, what)};
}

void memory_disk::fail_writes(const std::string& dir_prefix, size_t n) {
  failing_[dir_prefix] = n;
}

store_opener memory_disk::opener() {
  return [self = shared_from_this()](const std::string& dir, const std::string& what) {
    return self->open(dir, what);
  };
}

} // namespace caldera
