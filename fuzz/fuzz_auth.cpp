// libFuzzer target: what authentication reads from files and peers: the
// credentials file (JSON or lines), an agent's credential file, the ACL file,
// and a principal's proof against a challenge. The first byte picks which.
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string text{reinterpret_cast<const char*>(data + 1), size - 1};
  switch (data[0] % 4) {
    case 0:
      (void)caldera::credentials::parse(text, "fuzz");
      break;
    case 1:
      (void)caldera::parse_credential(text, "fuzz");
      break;
    case 2:
      if (auto a = caldera::acls::parse(text, "fuzz"))
        (void)a->allows(caldera::acls::action::run_tasks, "alice", "root");
      break;
    default: {
      static const auto creds = caldera::credentials::parse("alice s3cret\n", "fuzz");
      auto cut = text.find('\n');
      auto nonce = text.substr(0, cut);
      auto proof = cut == std::string::npos ? std::string{} : text.substr(cut + 1);
      if (creds->verify("alice", nonce, proof) && proof != caldera::prove("s3cret", nonce, "alice"))
        __builtin_trap(); // only the HMAC of the secret proves alice
    }
  }
  return 0;
}
