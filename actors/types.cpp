#include "actors/types.hpp"

#include <caf/actor_system_config.hpp>

namespace caldera {

const word_buffer& empty_message_buffer() {
  static const word_buffer buf = [] {
    capnp::MallocMessageBuilder mb;
    mb.initRoot<schema::GetState>();
    return std::make_shared<const kj::Array<capnp::word>>(
      capnp::messageToFlatArray(mb));
  }();
  return buf;
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::caldera>();
}

} // namespace caldera
