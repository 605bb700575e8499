# hadoop_like's own messages: task data (MapTask, ReduceTask) and the shuffle
# between executors (Fetch -> Partition), sent as caldera AppMessages.
@0xb9e287d460e9e070;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::hadoop");

enum JobKind {
  wordcount @0;
  grep @1;      # counts the matches of `pattern` (an ECMAScript regex)
}

struct JobSpec {
  kind @0 :JobKind;
  pattern @1 :Text;
  reducers @2 :UInt32;
  output @3 :Text;       # directory the reducers write part-r-NNNNN into
}

# Data of a map task: one split of one input file.
struct MapTask {
  job @0 :JobSpec;
  mapId @1 :UInt32;
  file @2 :Text;
  offset @3 :UInt64;
  length @4 :UInt64;
}

# Data of a reduce task: its partition and where every map's output is.
struct ReduceTask {
  job @0 :JobSpec;
  partition @1 :UInt32;
  outputs @2 :List(MapOutputRef);
}

struct MapOutputRef {
  mapId @0 :UInt32;
  address @1 :Text;      # the map output server (see actors/peer.hpp)
}

# reducer -> map output server ("fetch")
struct Fetch {
  mapId @0 :UInt32;
  partition @1 :UInt32;
}

# map output server -> reducer ("partition")
struct Partition {
  mapId @0 :UInt32;
  partition @1 :UInt32;
  found @2 :Bool;
  entries @3 :List(Entry);
}

struct Entry {
  key @0 :Text;
  count @1 :UInt64;
}
