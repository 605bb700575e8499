# mpi_like's own messages: a rank's task data, the rendezvous through the
# scheduler (Hello up, Roster down, as framework messages) and the ring
# allreduce between ranks (RingChunk, as caldera AppMessages).
@0xa19fb2867a8ad983;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caldera::mpi");

# Data of a rank's task.
struct RankTask {
  attempt @0 :UInt32;
  rank @1 :UInt32;
  size @2 :UInt32;
  vectorLength @3 :UInt32;      # K blocks of [0,1]
  samplesPerBlock @4 :UInt32;   # midpoints per block, dealt round-robin to ranks
}

# executor -> scheduler: where this rank listens.
struct Hello {
  attempt @0 :UInt32;
  rank @1 :UInt32;
  address @2 :Text;
}

# scheduler -> every rank: all ranks' addresses, by rank (rank 0 first).
struct Roster {
  attempt @0 :UInt32;
  addresses @1 :List(Text);
}

# rank -> its right neighbour: one step of the ring allreduce.
struct RingChunk {
  attempt @0 :UInt32;
  step @1 :UInt32;
  chunk @2 :UInt32;
  values @3 :List(Float64);
}
