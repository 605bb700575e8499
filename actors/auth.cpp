#include "actors/auth.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "actors/error.hpp"
#include "actors/runtime_env.hpp"

namespace caldera {

namespace {

using json = nlohmann::json;

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xf]);
  }
  return out;
}

bool equal_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

caf::expected<std::string> slurp(const std::string& path, const char* what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(errc::invalid_config,
                      std::string{what} + " '" + path + "': cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

caf::error bad(const std::string& what, const std::string& why) {
  return make_error(errc::invalid_config, what + ": " + why);
}

// "principal secret" lines (Mesos' plain credentials format).
caf::expected<std::map<std::string, std::string>> parse_lines(const std::string& text,
                                                              const std::string& what) {
  std::map<std::string, std::string> out;
  std::istringstream in{text};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream l{line};
    std::string principal, secret, extra;
    if (!(l >> principal) || principal[0] == '#')
      continue;
    if (!(l >> secret) || (l >> extra))
      return bad(what, "line " + std::to_string(n) + " is not 'principal secret'");
    out[principal] = secret;
  }
  return out;
}

caf::expected<std::map<std::string, std::string>> parse_json_credentials(const json& j,
                                                                         const std::string& what) {
  std::map<std::string, std::string> out;
  if (!j.is_object() || !j.contains("credentials") || !j["credentials"].is_array())
    return bad(what, "expected {\"credentials\": [{\"principal\": ..., \"secret\": ...}]}");
  for (auto& c : j["credentials"]) {
    if (!c.is_object() || !c.contains("principal") || !c["principal"].is_string()
        || !c.contains("secret") || !c["secret"].is_string())
      return bad(what, "every credential needs a string 'principal' and 'secret'");
    auto p = c["principal"].get<std::string>();
    if (p.empty() || c["secret"].get<std::string>().empty())
      return bad(what, "a principal or secret is empty");
    if (!out.emplace(p, c["secret"].get<std::string>()).second)
      return bad(what, "principal '" + p + "' appears twice");
  }
  return out;
}

} // namespace

caf::expected<credentials> credentials::load(const std::string& path) {
  auto text = slurp(path, "credentials file");
  if (!text)
    return text.error();
  return parse(*text, "credentials file '" + path + "'");
}

caf::expected<credentials> credentials::parse(const std::string& text, const std::string& what) {
  auto first = text.find_first_not_of(" \t\r\n");
  caf::expected<std::map<std::string, std::string>> secrets{std::map<std::string, std::string>{}};
  if (first != std::string::npos && text[first] == '{') {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded())
      return bad(what, "not valid JSON");
    secrets = parse_json_credentials(j, what);
  } else {
    secrets = parse_lines(text, what);
  }
  if (!secrets)
    return secrets.error();
  if (secrets->empty())
    return bad(what, "no credentials in it");
  credentials c;
  c.secrets_ = std::move(*secrets);
  return c;
}

bool credentials::verify(const std::string& principal, const std::string& nonce,
                         const std::string& proof) const {
  auto i = secrets_.find(principal);
  if (i == secrets_.end() || nonce.empty())
    return false;
  return equal_secret(prove(i->second, nonce, principal), proof);
}

bool credentials::check_secret(const std::string& principal, const std::string& secret) const {
  auto i = secrets_.find(principal);
  return i != secrets_.end() && equal_secret(i->second, secret);
}

std::string prove(const std::string& secret, const std::string& nonce,
                  const std::string& principal) {
  // The principal is bound in: a proof for alice is none for bob.
  std::string data = nonce + '\n' + principal;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return hex(out, len);
}

std::string make_nonce(runtime_env& env) {
  auto bytes = env.secure_random(16);
  return hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return equal_secret(a, b);
}

caf::expected<std::string> read_secret_file(const std::string& path) {
  auto text = slurp(path, "secret file");
  if (!text)
    return text.error();
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r'))
    text->pop_back();
  if (text->empty())
    return make_error(errc::invalid_config, "secret file '" + path + "' is empty");
  return *text;
}

caf::expected<credential> parse_credential(const std::string& text, const std::string& what) {
  credential c;
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return bad(what, "not valid JSON");
    if (!j.contains("principal") || !j["principal"].is_string() || !j.contains("secret")
        || !j["secret"].is_string())
      return bad(what, "needs {\"principal\": ..., \"secret\": ...}");
    c.principal = j["principal"].get<std::string>();
    c.secret = j["secret"].get<std::string>();
  } else {
    std::istringstream in{text};
    std::string extra;
    in >> c.principal >> c.secret;
    if (in >> extra)
      return bad(what, "holds more than one 'principal secret'");
  }
  if (c.principal.empty() || c.secret.empty())
    return bad(what, "needs a principal and a secret");
  return c;
}

caf::expected<credential> load_credential(const std::string& path) {
  auto text = slurp(path, "credential file");
  if (!text)
    return text.error();
  return parse_credential(*text, "credential file '" + path + "'");
}

} // namespace caldera
