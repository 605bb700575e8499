// The one C++ carrier for every Cap'n Proto message that crosses an actor
// boundary.
//
// `msg<S>` holds an immutable, shared flat array of a Cap'n Proto message whose
// root is the struct S. Copying a `msg` copies a pointer: an in-process send
// shares the bytes with the receiver. When CAF's middleman carries a `msg` to
// another node, `inspect` writes the length and the raw words (one copy onto the
// wire) and reads them back (one copy off it), rejecting sizes that are not a
// whole number of words or exceed `max_message_bytes` before allocating.
//
// Decoding is lazy: a getter of a Reader may throw `kj::Exception` when the
// bytes are malformed, so handlers read messages inside `guarded` (see
// actors/guard.hpp), never bare.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <caf/deserializer.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>
#include <kj/array.h>

namespace caldera {

/// Messages larger than this are refused on the wire (64 MiB).
inline constexpr size_t max_message_bytes = size_t{64} << 20;

/// Reader limits applied to every decode: a message may not make a reader walk
/// more than 8 Mi words or nest deeper than 64 levels.
inline capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = size_t{8} << 20;
  opts.nestingLimit = 64;
  return opts;
}

using word_buffer = std::shared_ptr<const kj::Array<capnp::word>>;

/// Returns the flat array of an empty message (root: all defaults).
const word_buffer& empty_message_buffer();

template <class S>
class msg {
public:
  using schema_type = S;
  using reader_type = typename S::Reader;

  /// A decoded view that owns what it reads: keep it alive while using the
  /// Reader it hands out. Not copyable or movable; returned by value only.
  class view {
  public:
    explicit view(word_buffer buf, capnp::ReaderOptions opts = reader_options())
      : buf_(std::move(buf)), reader_(buf_->asPtr(), opts), root_(reader_.getRoot<S>()) {
    }
    view(const view&) = delete;
    view& operator=(const view&) = delete;
    const reader_type* operator->() const { return &root_; }
    const reader_type& operator*() const { return root_; }
    reader_type get() const { return root_; }

  private:
    word_buffer buf_;
    capnp::FlatArrayMessageReader reader_;
    reader_type root_;
  };

  /// An empty message: every field has its default.
  msg() : buf_(empty_message_buffer()) {
  }

  /// Freezes what `builder` holds (one copy, into the flat array).
  explicit msg(capnp::MessageBuilder& builder)
    : buf_(std::make_shared<const kj::Array<capnp::word>>(
      capnp::messageToFlatArray(builder))) {
  }

  /// Adopts an existing flat array.
  explicit msg(word_buffer buf) : buf_(std::move(buf)) {
  }

  /// Decodes the message. May throw kj::Exception on malformed bytes (here or
  /// from any getter of the Reader).
  view read() const {
    return view{buf_};
  }

  /// For messages this process built itself (snapshots read many times
  /// over): no traversal limit. Never for bytes from a peer.
  view read_trusted() const {
    capnp::ReaderOptions opts = reader_options();
    opts.traversalLimitInWords = ~uint64_t{0} >> 4;
    return view{buf_, opts};
  }

  const word_buffer& buffer() const {
    return buf_;
  }

  size_t size_bytes() const {
    return buf_->size() * sizeof(capnp::word);
  }

  /// True if both share the same bytes (an in-process send copied nothing).
  bool same_buffer(const msg& other) const {
    return buf_.get() == other.buf_.get();
  }

private:
  word_buffer buf_;
};

inline constexpr unsigned first_segment_words = 128;

/// Builds a `msg<S>`: `make<S>([](auto b) { b.setName("x"); })`.
template <class S, class F>
msg<S> make(F&& fill) {
  // A small first segment: most messages are well under 1 KiB, and the
  // default 8 KiB (allocated zeroed, then copied flat) cost a registration
  // storm 5% of the master's time in memset alone; larger ones grow.
  capnp::MallocMessageBuilder mb{first_segment_words};
  fill(mb.initRoot<S>());
  return msg<S>{mb};
}

/// Serializes the bytes for CAF: a length, then the raw words.
template <class Inspector, class S>
typename Inspector::result_type inspect(Inspector& f, msg<S>& x) {
  if constexpr (std::is_base_of_v<caf::serializer, Inspector>) {
    auto bytes = x.buffer()->asBytes();
    size_t n = bytes.size();
    if (auto err = f.begin_sequence(n))
      return err;
    if (n > 0)
      if (auto err = f.apply_raw(n, const_cast<kj::byte*>(bytes.begin())))
        return err;
    return f.end_sequence();
  } else if constexpr (std::is_base_of_v<caf::deserializer, Inspector>) {
    size_t n = 0;
    if (auto err = f.begin_sequence(n))
      return err;
    if (n % sizeof(capnp::word) != 0 || n > max_message_bytes)
      return caf::make_error(caf::sec::invalid_argument,
                             "capnp message size is not a whole number of "
                             "words or exceeds the limit",
                             n);
    if (n == 0) {
      x = msg<S>{};
      return f.end_sequence();
    }
    auto words = kj::heapArray<capnp::word>(n / sizeof(capnp::word));
    if (auto err = f.apply_raw(n, words.begin()))
      return err;
    x = msg<S>{std::make_shared<const kj::Array<capnp::word>>(std::move(words))};
    return f.end_sequence();
  } else {
    // Stringification (logs, deep_to_string): name and size only.
    auto n = x.size_bytes();
    return f(caf::meta::type_name("capnp"), n);
  }
}

} // namespace caldera
