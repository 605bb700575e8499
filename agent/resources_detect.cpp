#include "agent/resources_detect.hpp"

#include <fstream>
#include <sstream>
#include <sys/statvfs.h>
#include <thread>

namespace caldera {

namespace {

double mem_total_mb() {
  std::ifstream in{"/proc/meminfo"};
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemTotal:")
      return kb / 1024.0;
  return 0;
}

} // namespace

resources detect_resources(const std::string& work_dir) {
  resources r;
  r.add_scalar("cpus", std::max(1u, std::thread::hardware_concurrency()));
  double mem = mem_total_mb();
  r.add_scalar("mem", mem > 2048 ? mem - 1024 : mem / 2);
  struct statvfs vfs{};
  if (statvfs(work_dir.c_str(), &vfs) == 0) {
    double mb = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize)
                / (1024.0 * 1024.0);
    r.add_scalar("disk", mb > 10240 ? mb - 5120 : mb / 2);
  }
  r.add_ranges("ports", {{31000, 32000}});
  return r;
}

resources complete_resources(resources given, const std::string& work_dir) {
  auto detected = detect_resources(work_dir);
  for (const char* name : {"cpus", "mem", "disk", "ports"}) {
    bool has = false;
    for (auto& [k, v] : given.entries())
      if (k.first == name)
        has = true;
    if (!has)
      for (auto& [k, v] : detected.entries())
        if (k.first == name) {
          resources one;
          if (v.is_ranges)
            one.add_ranges(k.first, v.ranges, k.second);
          else
            one.add_scalar(k.first, static_cast<double>(v.milli) / 1000.0, k.second);
          given += one;
        }
  }
  return given;
}

} // namespace caldera
