// Role weights and quotas: the operator calls, their registry records, and
// the Roles view.
#include "master/master_impl.hpp"

#include <cctype>
#include <cmath>

#include <caf/response_promise.hpp>

#include "actors/error.hpp"
#include "actors/guard.hpp"
#include "actors/log.hpp"
#include "master/registrar.hpp"

namespace caldera::detail {

bool valid_role(const std::string& role) {
  if (role == "*")
    return true;
  if (role.empty() || role.front() == '/' || role.back() == '/')
    return false;
  size_t start = 0;
  while (start <= role.size()) {
    auto slash = role.find('/', start);
    auto seg = role.substr(start, slash == std::string::npos ? std::string::npos
                                                             : slash - start);
    if (seg.empty() || seg == "." || seg == "..")
      return false;
    for (char c : seg)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
            || c == '.'))
        return false;
    if (slash == std::string::npos)
      break;
    start = slash + 1;
  }
  return true;
}

namespace {

role_record_msg record_of(const std::string& role,
                          const master_data::role_settings& rs) {
  return make<schema::RoleRecord>([&](schema::RoleRecord::Builder b) {
    b.setRole(role);
    b.setWeight(rs.weight);
    rs.guarantee.to_capnp(b.initGuarantee(static_cast<unsigned>(rs.guarantee.entry_count())));
    rs.limit.to_capnp(b.initLimit(static_cast<unsigned>(rs.limit.entry_count())));
  });
}

void apply(master_actor* self, const std::string& role,
           const master_data::role_settings& rs) {
  auto& d = self->state;
  d.roles[role] = rs;
  d.alloc.set_weight(role, rs.weight);
  if (rs.guarantee.empty() && rs.limit.empty())
    d.alloc.remove_quota(role);
  else
    d.alloc.set_quota(role, {rs.guarantee, rs.limit});
}

// Writes `changes` to the registry, then applies them and answers Roles.
caf::result<roles_msg>
commit(master_actor* self,
       std::vector<std::pair<std::string, master_data::role_settings>> changes) {
  registry_store::batch batch;
  for (auto& [role, rs] : changes)
    batch.put_role(role, record_of(role, rs));
  auto rp = self->make_response_promise<roles_msg>();
  persist(
    self, std::move(batch),
    [=]() mutable {
      for (auto& [role, rs] : changes) {
        apply(self, role, rs);
        log::info("role_updated", {{"role", role}, {"weight", rs.weight},
                                   {"guarantee", rs.guarantee.to_string()},
                                   {"limit", rs.limit.to_string()}});
      }
      rp.deliver(roles_snapshot(self));
      request_allocation(self);
    },
    [=](const caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

} // namespace

void recover_roles(master_actor* self) {
  for (auto& [role, weight] : self->state.opts.initial_weights) {
    master_data::role_settings rs;
    rs.weight = weight;
    apply(self, role, rs);
  }
  for (auto& rec : self->state.opts.recovered.roles) {
    guarded("RoleRecord", [&] {
      auto v = rec.read();
      master_data::role_settings rs;
      rs.weight = v->getWeight();
      if (auto g = resources::from_capnp(v->getGuarantee()))
        rs.guarantee = *g;
      if (auto l = resources::from_capnp(v->getLimit()))
        rs.limit = *l;
      apply(self, v->getRole(), rs);
    });
  }
}

caf::result<roles_msg> handle_set_weights(master_actor* self, const set_weights_msg& m) {
  std::vector<std::pair<std::string, master_data::role_settings>> changes;
  caf::error problem;
  bool ok = guarded("SetWeights", [&] {
    auto v = m.read();
    for (auto w : v->getWeights()) {
      std::string role = w.getRole();
      double weight = w.getWeight();
      if (!valid_role(role)) {
        problem = make_error(errc::invalid_message, "invalid role '" + role + "'");
        return;
      }
      if (!std::isfinite(weight) || weight <= 0) {
        problem = make_error(errc::invalid_message, "weight of role '" + role
                                                      + "' must be a positive number");
        return;
      }
      auto known = self->state.roles.find(role);
      auto rs = known != self->state.roles.end() ? known->second
                                                 : master_data::role_settings{};
      rs.weight = weight;
      changes.emplace_back(role, rs);
    }
  });
  if (!ok)
    return make_error(errc::invalid_message, "SetWeights does not decode");
  if (problem)
    return problem;
  if (changes.empty())
    return make_error(errc::invalid_message, "no weights given");
  for (auto& [role, rs] : changes)
    if (auto err = authorize_operator(self, acls::action::update_weights, role))
      return err;
  return commit(self, std::move(changes));
}

caf::result<roles_msg> handle_set_quota(master_actor* self, const set_quota_msg& m) {
  std::vector<std::pair<std::string, master_data::role_settings>> changes;
  caf::error problem;
  bool ok = guarded("SetQuota", [&] {
    auto v = m.read();
    std::string role = v->getRole();
    if (!valid_role(role) || role == "*") {
      problem = make_error(errc::invalid_message, "invalid role '" + role + "' for a quota");
      return;
    }
    auto known = self->state.roles.find(role);
    auto rs = known != self->state.roles.end() ? known->second
                                               : master_data::role_settings{};
    if (v->getRemove()) {
      if (rs.guarantee.empty() && rs.limit.empty()) {
        problem = make_error(errc::invalid_message, "role '" + role + "' has no quota to remove");
        return;
      }
      rs.guarantee = resources{};
      rs.limit = resources{};
    } else {
      auto g = resources::from_capnp(v->getGuarantee());
      auto l = resources::from_capnp(v->getLimit());
      if (!g || !l) {
        problem = g ? l.error() : g.error();
        return;
      }
      for (auto& [k, val] : g->entries())
        if (val.is_ranges || k.second != "*") {
          problem = make_error(errc::invalid_resources,
                               "quota holds unreserved scalars only, not '" + k.first + "'");
          return;
        }
      if (!l->empty()) {
        auto gs = g->scalars();
        auto ls = l->scalars();
        for (auto& [k, val] : ls)
          if (gs[k] > val + 1e-9) {
            problem = make_error(errc::invalid_resources,
                                 "guarantee of " + k + " exceeds its limit");
            return;
          }
      }
      rs.guarantee = *g;
      rs.limit = *l;
    }
    changes.emplace_back(role, rs);
  });
  if (!ok)
    return make_error(errc::invalid_message, "SetQuota does not decode");
  if (problem)
    return problem;
  for (auto& [role, rs] : changes)
    if (auto err = authorize_operator(self, acls::action::update_quotas, role))
      return err;
  return commit(self, std::move(changes));
}

roles_msg roles_snapshot(master_actor* self) {
  auto& d = self->state;
  std::map<std::string, std::vector<std::string>> roles;
  for (auto& [role, rs] : d.roles)
    roles[role];
  for (auto& [fid, fw] : d.st.frameworks)
    if (!fw.completed)
      for (auto& r : fw.roles)
        roles[r].push_back(fid);
  capnp::MallocMessageBuilder mb;
  auto rb = mb.initRoot<schema::Roles>().initRoles(static_cast<unsigned>(roles.size()));
  unsigned i = 0;
  for (auto& [role, fws] : roles) {
    auto b = rb[i++];
    b.setRole(role);
    auto rs = d.roles.count(role) ? d.roles[role] : master_data::role_settings{};
    b.setWeight(rs.weight);
    // As of the allocator's last cycle.
    auto stat = d.role_stats.count(role) ? d.role_stats[role] : role_stat{};
    rs.guarantee.to_capnp(b.initGuarantee(static_cast<unsigned>(rs.guarantee.entry_count())));
    rs.limit.to_capnp(b.initLimit(static_cast<unsigned>(rs.limit.entry_count())));
    resources alloc;
    for (auto& [k, v] : stat.allocated)
      alloc.add_scalar(k, v);
    alloc.to_capnp(b.initAllocated(static_cast<unsigned>(alloc.entry_count())));
    b.setShare(stat.share);
    auto fl = b.initFrameworks(static_cast<unsigned>(fws.size()));
    for (unsigned j = 0; j < fws.size(); ++j)
      fl.set(j, fws[j]);
  }
  return roles_msg{mb};
}

} // namespace caldera::detail
