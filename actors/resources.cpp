#include "actors/resources.hpp"

#include <map>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "actors/error.hpp"

namespace caldera {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
          || c == '.' || c == '/'))
      return false;
  return true;
}

caf::error bad(std::string_view entry, const std::string& why) {
  std::string msg = "'";
  msg += entry;
  msg += "': ";
  msg += why;
  return make_error(errc::invalid_resources, std::move(msg));
}

bool parse_u64(std::string_view s, uint64_t& out) {
  s = trim(s);
  if (s.empty() || s.size() > 19)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

std::vector<resources::range> merge(std::vector<resources::range> rs) {
  std::sort(rs.begin(), rs.end());
  std::vector<resources::range> out;
  for (auto& r : rs) {
    if (!out.empty() && r.first <= out.back().second + 1)
      out.back().second = std::max(out.back().second, r.second);
    else
      out.push_back(r);
  }
  return out;
}

// a - b for merged interval lists.
std::vector<resources::range> subtract(const std::vector<resources::range>& a,
                                       const std::vector<resources::range>& b) {
  std::vector<resources::range> out;
  for (auto r : a) {
    uint64_t lo = r.first, hi = r.second;
    bool alive = true;
    for (auto& s : b) {
      if (!alive || s.second < lo || s.first > hi)
        continue;
      if (s.first > lo)
        out.emplace_back(lo, s.first - 1);
      if (s.second >= hi) {
        alive = false;
      } else {
        lo = s.second + 1;
      }
    }
    if (alive)
      out.emplace_back(lo, hi);
  }
  return out;
}

bool ranges_contain(const std::vector<resources::range>& a,
                    const std::vector<resources::range>& b) {
  return subtract(b, a).empty();
}

// Amounts are kept in thousandths (int64): anything larger would overflow,
// anything smaller would vanish.
constexpr double max_scalar = 1e12;
constexpr double min_scalar = 0.001;
constexpr uint64_t max_port = 65535;

// Why `v` of resource `name` cannot be kept ("" : it can).
std::string scalar_problem(double v) {
  if (!std::isfinite(v))
    return "is not finite";
  if (v < 0)
    return "is negative";
  if (v > max_scalar)
    return "is too large (at most 1e12)";
  if (v > 0 && v < min_scalar)
    return "is below the smallest amount, 0.001";
  return {};
}

int64_t to_milli(double v) {
  return static_cast<int64_t>(std::llround(v * 1000.0));
}

// Whether the amounts of `name` given so far (one resource named twice
// adds up) stay within what a value may be: printed, they parse again.
bool sum_too_large(const resources& r, const std::string& name, const std::string& role) {
  auto e = r.entries().find({name, role});
  return e != r.entries().end() && e->second.milli > to_milli(max_scalar);
}

} // namespace

namespace {

// One name, one kind: "ports:[1-2];ports:3" (ranges and a number under one
// name) has no meaning; the fuzzer found it printing differently than it
// parsed. Records `name`'s kind; true when it clashes with an earlier one.
bool kind_clash(std::map<std::string, bool>& kinds, const std::string& name, bool ranges) {
  auto [i, fresh] = kinds.emplace(name, ranges);
  return !fresh && i->second != ranges;
}

} // namespace

caf::expected<resources> resources::parse(std::string_view text) {
  resources out;
  std::map<std::string, bool> kinds;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto semi = rest.find(';');
    auto entry = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{}
                                          : rest.substr(semi + 1);
    if (entry.empty())
      continue;
    auto colon = entry.find(':');
    if (colon == std::string_view::npos)
      return bad(entry, "expected NAME:VALUE");
    auto lhs = trim(entry.substr(0, colon));
    auto rhs = trim(entry.substr(colon + 1));
    std::string role = "*";
    auto paren = lhs.find('(');
    std::string_view name = lhs;
    if (paren != std::string_view::npos) {
      if (lhs.back() != ')')
        return bad(entry, "unbalanced parenthesis in role");
      name = trim(lhs.substr(0, paren));
      role = std::string{trim(lhs.substr(paren + 1, lhs.size() - paren - 2))};
      if (!valid_name(role) && role != "*")
        return bad(entry, "invalid role '" + role + "'");
    }
    if (!valid_name(name))
      return bad(entry, "invalid resource name");
    if (rhs.empty())
      return bad(entry, "missing value");
    if (kind_clash(kinds, std::string{name}, rhs.front() == '['))
      return bad(entry, "'" + std::string{name} + "' is given both as ranges and as a number");
    if (rhs.front() == '[') {
      if (rhs.back() != ']')
        return bad(entry, "range list must end with ']'");
      auto body = rhs.substr(1, rhs.size() - 2);
      std::vector<range> rs;
      while (!trim(body).empty()) {
        auto comma = body.find(',');
        auto item = trim(body.substr(0, comma));
        body = comma == std::string_view::npos ? std::string_view{}
                                               : body.substr(comma + 1);
        auto dash = item.find('-');
        uint64_t lo = 0, hi = 0;
        if (dash == std::string_view::npos) {
          if (!parse_u64(item, lo))
            return bad(entry, "invalid range '" + std::string{item} + "'");
          hi = lo;
        } else if (!parse_u64(item.substr(0, dash), lo)
                   || !parse_u64(item.substr(dash + 1), hi)) {
          return bad(entry, "invalid range '" + std::string{item} + "'");
        }
        if (lo > hi)
          return bad(entry, "range '" + std::string{item}
                              + "' has its begin after its end");
        if (name == "ports" && hi > max_port)
          return bad(entry, "range '" + std::string{item} + "' goes beyond port 65535");
        rs.emplace_back(lo, hi);
      }
      out.add_ranges(std::string{name}, std::move(rs), role);
      continue;
    }
    std::string num{rhs};
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    // The whole text is the number (a NUL inside it ends strtod early).
    if (end == num.c_str() || end != num.c_str() + num.size())
      return bad(entry, "value '" + num + "' is not a number");
    if (auto why = scalar_problem(v); !why.empty())
      return bad(entry, "value " + num + " " + why);
    out.add_scalar(std::string{name}, v, role);
    if (sum_too_large(out, std::string{name}, role))
      return bad(entry, "the amounts of '" + std::string{name} + "' add up to more than 1e12");
  }
  return out;
}

caf::expected<resources>
resources::from_capnp(capnp::List<schema::Resource>::Reader xs) {
  resources out;
  std::map<std::string, bool> kinds;
  for (auto r : xs) {
    std::string name = r.getName();
    std::string role = r.getRole();
    if (role.empty())
      role = "*";
    if (!valid_name(name))
      return bad(name, "invalid resource name");
    if (kind_clash(kinds, name, !r.isScalar()))
      return bad(name, "given both as ranges and as a number");
    if (r.isScalar()) {
      double v = r.getScalar();
      if (auto why = scalar_problem(v); !why.empty())
        return bad(name, "scalar " + std::to_string(v) + " " + why);
      out.add_scalar(name, v, role);
      if (sum_too_large(out, name, role))
        return bad(name, "the amounts add up to more than 1e12");
    } else {
      std::vector<range> rs;
      for (auto x : r.getRanges()) {
        if (x.getBegin() > x.getEnd())
          return bad(name, "range has its begin after its end");
        if (name == "ports" && x.getEnd() > max_port)
          return bad(name, "range goes beyond port 65535");
        rs.emplace_back(x.getBegin(), x.getEnd());
      }
      out.add_ranges(name, std::move(rs), role);
    }
  }
  return out;
}

void resources::to_capnp(capnp::List<schema::Resource>::Builder xs) const {
  unsigned i = 0;
  for (auto& [k, v] : entries_) {
    auto r = xs[i++];
    r.setName(k.first);
    r.setRole(k.second);
    if (v.is_ranges) {
      auto rs = r.initRanges(static_cast<unsigned>(v.ranges.size()));
      for (unsigned j = 0; j < v.ranges.size(); ++j) {
        rs[j].setBegin(v.ranges[j].first);
        rs[j].setEnd(v.ranges[j].second);
      }
    } else {
      r.setScalar(static_cast<double>(v.milli) / 1000.0);
    }
  }
}

std::string resources::to_string() const {
  std::string out;
  for (auto& [k, v] : entries_) {
    if (!out.empty())
      out += ';';
    out += k.first;
    if (k.second != "*")
      out += "(" + k.second + ")";
    out += ':';
    if (v.is_ranges) {
      out += '[';
      for (size_t i = 0; i < v.ranges.size(); ++i) {
        if (i > 0)
          out += ',';
        out += std::to_string(v.ranges[i].first) + "-"
               + std::to_string(v.ranges[i].second);
      }
      out += ']';
    } else {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(v.milli) / 1000.0);
      std::string s = buf;
      while (s.back() == '0')
        s.pop_back();
      if (s.back() == '.')
        s.pop_back();
      out += s;
    }
  }
  return out;
}

bool resources::contains(const resources& other) const {
  auto i = entries_.begin(); // both sorted: one walk
  for (auto& [k, v] : other.entries_) {
    while (i != entries_.end() && i->first < k)
      ++i;
    if (i == entries_.end() || i->first != k)
      return false;
    if (v.is_ranges != i->second.is_ranges)
      return false;
    if (v.is_ranges) {
      if (!ranges_contain(i->second.ranges, v.ranges))
        return false;
    } else if (v.milli > i->second.milli) {
      return false;
    }
  }
  return true;
}

resources& resources::operator+=(const resources& other) {
  for (auto& [k, v] : other.entries_) {
    auto& mine = entries_[k];
    if (mine.ranges.empty() && mine.milli == 0)
      mine.is_ranges = v.is_ranges;
    if (v.is_ranges) {
      auto rs = mine.ranges;
      rs.insert(rs.end(), v.ranges.begin(), v.ranges.end());
      mine.ranges = merge(std::move(rs));
    } else {
      mine.milli += v.milli;
    }
    normalize(k);
  }
  return *this;
}

resources& resources::operator-=(const resources& other) {
  for (auto& [k, v] : other.entries_) {
    auto i = entries_.find(k);
    if (i == entries_.end())
      continue;
    if (v.is_ranges)
      i->second.ranges = subtract(i->second.ranges, v.ranges);
    else
      i->second.milli = std::max<int64_t>(0, i->second.milli - v.milli);
    normalize(k);
  }
  return *this;
}

bool resources::operator==(const resources& other) const {
  if (entries_.size() != other.entries_.size())
    return false;
  for (auto& [k, v] : entries_) {
    auto i = other.entries_.find(k);
    if (i == other.entries_.end() || i->second.is_ranges != v.is_ranges
        || i->second.milli != v.milli || i->second.ranges != v.ranges)
      return false;
  }
  return true;
}

double resources::scalar(std::string_view name) const {
  int64_t total = 0;
  for (auto& [k, v] : entries_)
    if (k.first == name && !v.is_ranges)
      total += v.milli;
  return static_cast<double>(total) / 1000.0;
}

void resources::add_scalar(std::string name, double amount, std::string role) {
  if (!(amount > 0))
    return;
  resources r;
  key k{std::move(name), std::move(role)};
  r.entries_[k].milli = to_milli(amount);
  r.normalize(k);
  *this += r;
}

void resources::add_ranges(std::string name, std::vector<range> rs,
                           std::string role) {
  resources r;
  key k{std::move(name), std::move(role)};
  auto& v = r.entries_[k];
  v.is_ranges = true;
  v.ranges = merge(std::move(rs));
  r.normalize(k);
  *this += r;
}

void resources::cap(const std::string& name, double max) {
  int64_t have = 0;
  for (auto& [k, v] : entries_)
    if (k.first == name && !v.is_ranges)
      have += v.milli;
  int64_t excess = have - to_milli(std::max(0.0, max));
  if (excess <= 0)
    return;
  auto take = [&](bool reserved) {
    for (auto& [k, v] : entries_) {
      if (excess <= 0)
        return;
      if (k.first != name || v.is_ranges || (k.second != "*") != reserved)
        continue;
      auto d = std::min(excess, v.milli);
      v.milli -= d;
      excess -= d;
    }
  };
  take(false);
  take(true);
  for (auto i = entries_.begin(); i != entries_.end();) {
    if (!i->second.is_ranges && i->second.milli <= 0)
      i = entries_.erase(i);
    else
      ++i;
  }
}

std::map<std::string, double> resources::scalars() const {
  std::map<std::string, double> out;
  for (auto& [k, v] : entries_)
    if (!v.is_ranges)
      out[k.first] += static_cast<double>(v.milli) / 1000.0;
  return out;
}

resources resources::of_role(std::string_view role) const {
  resources out;
  for (auto& [k, v] : entries_)
    if (k.second == role)
      out.entries_.emplace(k, v);
  return out;
}

resources
resources::allocatable_to(const std::vector<std::string>& roles) const {
  resources out;
  for (auto& [k, v] : entries_)
    if (k.second == "*"
        || std::find(roles.begin(), roles.end(), k.second) != roles.end())
      out.entries_.emplace(k, v);
  return out;
}

resources resources::allocatable_to_role(std::string_view role) const {
  resources out;
  for (auto& [k, v] : entries_)
    if (k.second == "*" || k.second == role)
      out.entries_.emplace(k, v);
  return out;
}

void resources::normalize(const key& k) {
  auto i = entries_.find(k);
  if (i == entries_.end())
    return;
  auto& v = i->second;
  if ((v.is_ranges && v.ranges.empty()) || (!v.is_ranges && v.milli <= 0))
    entries_.erase(i);
}

} // namespace caldera
