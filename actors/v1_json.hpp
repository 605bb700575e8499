// Mesos' v1 JSON (include/mesos/v1/mesos.proto as protobuf's JSON mapping:
// snake_case fields, enums by name, ids as {"value": ...}, bytes as base64)
// to and from caldera's SDK types, for the v1 scheduler, executor and
// operator HTTP APIs. Plain code: unit tests drive it without actors.
//
// Reading is as lenient as real clients need: unknown fields are ignored,
// an explicit `null` is an unset field, 64-bit numbers may come as strings.
// What caldera cannot do is refused by name (v1_error), never ignored.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/executor.hpp"
#include "actors/resources.hpp"
#include "actors/scheduler.hpp"
#include "actors/status.hpp"

namespace caldera::v1 {

using json = nlohmann::json;

/// A request the v1 APIs refuse (answered 400 with `what()`).
struct v1_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One RecordIO record (Mesos' docs/recordio.md): the length of the JSON
/// text in bytes, a newline, the text.
std::string recordio(const json& event);

/// Reads RecordIO records from bytes as they arrive (tests and clients).
class recordio_reader {
public:
  /// Appends `data`; complete records go to `out`. false when the framing
  /// is broken (a length that is not a number).
  bool feed(std::string_view data, std::vector<std::string>& out);

private:
  std::string buf_;
};

// -- reading a call's fields ----------------------------------------------------

/// The object at `key` (null when absent or null); v1_error when it is
/// something else. `where` names the field in messages ("accept.filters").
const json* object_at(const json& j, const char* key, const std::string& where);
/// The array at `key` (empty when absent or null).
const json& array_at(const json& j, const char* key, const std::string& where);
/// A string field ("" when absent or null).
std::string text_at(const json& j, const char* key, const std::string& where);
/// A number field, also given as a string; `dflt` when absent or null.
double number_at(const json& j, const char* key, const std::string& where, double dflt);
bool bool_at(const json& j, const char* key, const std::string& where, bool dflt);
/// An id ({"value": "..."}): "" when absent; v1_error when malformed.
std::string id_at(const json& j, const char* key, const std::string& where);
/// base64 bytes, decoded.
std::string bytes_at(const json& j, const char* key, const std::string& where);

// -- caldera -> v1 --------------------------------------------------------------

json id_json(const std::string& value);
/// Resources as v1 `Resource`s: SCALAR / RANGES, `role` and (when reserved)
/// `reservations`; `allocation_role` (non-empty) as `allocation_info`.
json resources_json_v1(const resources& r, const std::string& allocation_role = {});
/// An offer as a v1 `Offer` for `framework_id`.
json offer_json(const offer& o, const std::string& framework_id,
                const std::string& allocation_role);
/// A status as a v1 `TaskStatus` (uuid and data as base64).
json status_json(const status_info& s);
const char* source_name(schema::StatusSource s);

// -- v1 -> caldera --------------------------------------------------------------

/// v1 `Resource`s; SET resources and disk sources are refused.
resources resources_from_json(const json& list, const std::string& where);
/// A v1 `TaskInfo` as what the scheduler SDK launches.
task_spec task_from_json(const json& task, const std::string& where);
/// A v1 `TaskStatus` an executor sends (its uuid bytes as lowercase hex:
/// caldera's uuids are text); the ids the caller fills in.
status_info status_from_json(const json& status, const std::string& where);
/// A v1 `TaskInfo` an executor gets (LAUNCH) or re-subscribes with.
json task_json(const task_info& t);
task_info task_info_from_json(const json& task, const std::string& where);
/// Bytes as lowercase hex and back (nullopt: not hex).
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

/// A v1 `CommandInfo` as a shell command line (`shell: false` runs `value`
/// with `arguments` quoted, without a shell's interpretation).
std::string command_line(const json& command, const std::string& where);
/// "a'b" -> 'a'"'"'b' (one word for /bin/sh).
std::string shell_quote(std::string_view word);

} // namespace caldera::v1
