#include "actors/v1_http.hpp"

#include <cctype>

#include <httplib.h>

namespace caldera::v1 {

void reply_text(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(message, "text/plain; charset=utf-8");
}

std::string media_type(const std::string& header) {
  auto t = header.substr(0, header.find(';'));
  while (!t.empty() && t.back() == ' ')
    t.pop_back();
  for (auto& ch : t)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return t;
}

bool check_media(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_header("Content-Type")) {
    reply_text(res, 400, "Expecting 'Content-Type' to be present");
    return false;
  }
  auto type = media_type(req.get_header_value("Content-Type"));
  if (type != "application/json") {
    reply_text(res, 415, "Content-Type '" + type + "' is not supported: caldera speaks the v1 "
                         "APIs in JSON only (Content-Type: application/json)");
    return false;
  }
  if (!req.has_header("Accept"))
    return true;
  auto accept = req.get_header_value("Accept");
  for (const char* ok : {"application/json", "*/*", "application/*", "application/recordio"})
    if (accept.find(ok) != std::string::npos)
      return true;
  reply_text(res, 406, "Accept '" + accept + "' cannot be served: caldera answers the v1 APIs in "
                       "JSON only (application/json)");
  return false;
}

bool wants_recordio(const httplib::Request& req) {
  return media_type(req.get_header_value("Accept")) == "application/recordio";
}

} // namespace caldera::v1
