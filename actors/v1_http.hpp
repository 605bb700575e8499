// What Mesos' v1 HTTP APIs (scheduler, executor, operator) share on the
// wire: JSON in and out (application/x-protobuf refused with 415 and a clear
// message), errors as plain text as Mesos writes them.
#pragma once

#include <string>

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

namespace caldera::v1 {

/// `status` with `message` as text/plain (Mesos' error shape).
void reply_text(httplib::Response& res, int status, const std::string& message);
/// "application/json; charset=utf-8" -> "application/json".
std::string media_type(const std::string& header);
/// Content-Type must be JSON (400 when missing, 415 otherwise) and Accept,
/// when given, must allow JSON or RecordIO (406); false when answered.
bool check_media(const httplib::Request& req, httplib::Response& res);
/// Whether the client asked for RecordIO framing by name (then the reply's
/// Content-Type says application/recordio and Message-Content-Type JSON).
bool wants_recordio(const httplib::Request& req);

} // namespace caldera::v1
