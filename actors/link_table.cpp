#include "actors/link_table.hpp"

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/system_messages.hpp>
#include <caf/uniform_type_info_map.hpp>

namespace caldera {

link_table::link_table(uint64_t seed) : rng_(seed) {
}

void link_table::attach(caf::actor_id id, const std::string& node) {
  node_of_[id] = node;
  nodes_.insert(node);
}

const std::string* link_table::node_of(caf::actor_id id) const {
  auto i = node_of_.find(id);
  return i == node_of_.end() ? nullptr : &i->second;
}

void link_table::set(const std::string& from, const std::string& to, link_fault f) {
  if (f.any())
    faults_[{from, to}] = f;
  else
    faults_.erase({from, to});
}

link_fault link_table::get(const std::string& from, const std::string& to) const {
  auto i = faults_.find({from, to});
  return i == faults_.end() ? link_fault{} : i->second;
}

void link_table::cut(const std::string& a, const std::string& b, bool both) {
  faults_[{a, b}].cut = true;
  if (both)
    faults_[{b, a}].cut = true;
}

void link_table::heal(const std::string& a, const std::string& b) {
  faults_.erase({a, b});
  faults_.erase({b, a});
}

void link_table::heal_all() {
  faults_.clear();
}

double link_table::draw() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void link_table::tell(const char* what, const std::string& from, const std::string& to,
                      const caf::mailbox_element& e, caf::abstract_actor* receiver) {
  if (!observer_)
    return;
  std::string types;
  auto& content = e.content();
  auto& names = receiver->home_system().types();
  for (size_t i = 0; i < content.size() && i < 2; ++i) {
    if (i > 0)
      types += ',';
    auto rtti = content.type(i);
    if (rtti.first == caf::type_nr<caf::atom_value>::value)
      types += content.stringify(i);
    else
      types += names.portable_name(rtti);
  }
  if (e.mid.is_response())
    types += "(response)";
  observer_(what, from, to, types);
}

void link_table::hold(caf::mailbox_element_ptr e, caf::abstract_actor* receiver,
                      caf::timespan d) {
  auto& clock = receiver->home_system().clock();
  held_.insert(e.get());
  clock.schedule_message(clock.now() + d, caf::actor_cast<caf::strong_actor_ptr>(receiver),
                         std::move(e));
}

bool link_table::admit(caf::mailbox_element_ptr& e, caf::abstract_actor* receiver) {
  if (auto i = held_.find(e.get()); i != held_.end()) {
    held_.erase(i);
    return true; // its delay is over (decided when it was held)
  }
  if (!e->sender)
    return true;
  auto from = node_of(e->sender->id());
  auto to = node_of(receiver->id());
  if (from == nullptr || to == nullptr || *from == *to)
    return true;
  auto& content = e->content();
  if (content.match_elements<caf::down_msg>() || content.match_elements<caf::exit_msg>())
    return true;
  auto f = get(*from, *to);
  if (f.cut || (f.drop > 0 && draw() < f.drop)) {
    ++counts_.dropped;
    tell(f.cut ? "cut" : "drop", *from, *to, *e, receiver);
    return false;
  }
  if (f.duplicate > 0 && draw() < f.duplicate) {
    ++counts_.duplicated;
    tell("dup", *from, *to, *e, receiver);
    auto copy = caf::make_mailbox_element(e->sender, e->mid, e->stages,
                                          e->copy_content_to_message());
    hold(std::move(copy), receiver, std::chrono::milliseconds(1 + rng_() % 100));
  }
  if (f.delay > 0 && draw() < f.delay) {
    ++counts_.delayed;
    tell("delay", *from, *to, *e, receiver);
    auto max_ms = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(f.max_delay).count());
    hold(std::move(e), receiver,
         std::chrono::milliseconds(1 + static_cast<int64_t>(rng_() % static_cast<uint64_t>(max_ms))));
    return false;
  }
  ++counts_.delivered;
  tell("deliver", *from, *to, *e, receiver);
  return true;
}

} // namespace caldera
