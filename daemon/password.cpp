#include "daemon/password.hpp"

#include <sodium.h>

namespace casedesk::daemon {
namespace {

// INTERACTIVE (2 passes over 64 MiB): hash or verify ~70 ms on a 2-core machine (measured
// 2026-11), which a web login and the rate limiter in front of it are sized for. MODERATE (3 passes
// over 256 MiB) took ~530 ms there, too slow for every login and four times the memory.
constexpr unsigned long long kOpsLimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr std::size_t kMemLimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;

void ensure_sodium() {
  // A function-local static runs sodium_init exactly once even with concurrent first callers;
  // sodium_init itself is idempotent (returns 1 when already initialised).
  static const int rc = sodium_init();
  if (rc < 0) throw PasswordError("libsodium could not be initialised");
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), kOpsLimit, kMemLimit) != 0)
    throw PasswordError("password hashing failed (out of memory)");
  return out;
}

bool verify_password(std::string_view stored_hash, std::string_view password) {
  ensure_sodium();
  // crypto_pwhash_str_verify wants a NUL-terminated string that fits crypto_pwhash_STRBYTES.
  if (stored_hash.empty() || stored_hash.size() >= crypto_pwhash_STRBYTES) return false;
  char stored[crypto_pwhash_STRBYTES] = {};
  stored_hash.copy(stored, stored_hash.size());
  return crypto_pwhash_str_verify(stored, password.data(), password.size()) == 0;
}

}  // namespace casedesk::daemon
