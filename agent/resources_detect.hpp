// What the agent offers when its config gives no resources: cpus from the
// machine, memory from /proc/meminfo (less 1 GiB for the system, as Mesos),
// disk from the work dir's filesystem, and ports 31000-32000.
#pragma once

#include <string>

#include "actors/resources.hpp"

namespace caldera {

resources detect_resources(const std::string& work_dir);

/// Fills in what `given` lacks (cpus, mem, disk, ports) from detection.
resources complete_resources(resources given, const std::string& work_dir);

} // namespace caldera
