// libFuzzer target: the bytes a peer sends as one caldera message. The first
// byte picks the message type (every type CAF carries for caldera); the rest
// goes through what the middleman does with it (msg's inspect: the length,
// the whole-words check, the size limit) and then is decoded and walked
// entirely, as a handler would read it. Malformed bytes must end as an error
// or a kj::Exception (what `guarded` catches), never as a crash.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <capnp/pretty-print.h>
#include <kj/exception.h>

#include "actors/types.hpp"

namespace {

template <class Msg>
void decode(const uint8_t* data, size_t size) {
  caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr),
                                  caf::span<const caf::byte>{
                                    reinterpret_cast<const caf::byte*>(data), size}};
  Msg m;
  if (auto err = inspect(source, m))
    return;
  try {
    auto v = m.read();
    auto text = capnp::prettyPrint(*v); // visits every field, list and pointer
    (void)text;
  } catch (const kj::Exception&) {
  }
}

using decoder = void (*)(const uint8_t*, size_t);

#define CALDERA_FUZZ_DECODER(name) &decode<caldera::name>,
const decoder decoders[] = {CALDERA_MSG_TYPES(CALDERA_FUZZ_DECODER)};
#undef CALDERA_FUZZ_DECODER

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  constexpr size_t n = sizeof(decoders) / sizeof(decoders[0]);
  decoders[data[0] % n](data + 1, size - 1);
  return 0;
}
