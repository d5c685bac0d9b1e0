#pragma once
// Password hashing for consultants' accounts (CLI `user add` / `user passwd`, web UI login):
// libsodium argon2id with a random salt, in the self-describing "$argon2id$v=19$m=...,t=...,p=..."
// string form, so stored hashes keep verifying if the cost parameters change later.
//
// Threading: both functions may be called from any thread (libsodium is initialised once, thread
// safely, on first use). Each call takes about 70 ms and 64 MiB of memory on purpose
// (argon2id INTERACTIVE limits, measured on a 2-core machine).

#include <stdexcept>
#include <string>
#include <string_view>

namespace casedesk::daemon {

class PasswordError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The argon2id hash string of `password` (ASCII, at most 127 characters).
// @throw PasswordError when libsodium cannot be initialised or runs out of memory.
std::string hash_password(std::string_view password);

// true when `password` matches `stored_hash` (a string from hash_password). A malformed or empty
// stored hash never matches. The comparison is constant-time inside libsodium.
// @throw PasswordError when libsodium cannot be initialised.
bool verify_password(std::string_view stored_hash, std::string_view password);

}  // namespace casedesk::daemon
