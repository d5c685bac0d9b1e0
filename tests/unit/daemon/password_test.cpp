#include "daemon/password.hpp"

#include <gtest/gtest.h>

#include <string>

namespace casedesk::daemon {
namespace {

TEST(Password, HashIsArgon2idAndVerifies) {
  const auto hash = hash_password("correct horse battery staple");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_EQ(hash.find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password(hash, "correct horse battery staple"));
}

TEST(Password, WrongPasswordDoesNotVerify) {
  const auto hash = hash_password("s3cret");
  EXPECT_FALSE(verify_password(hash, "s3cret "));
  EXPECT_FALSE(verify_password(hash, ""));
}

TEST(Password, SamePasswordHashesDifferently) {
  EXPECT_NE(hash_password("same"), hash_password("same"));  // random salt
}

TEST(Password, MalformedStoredHashNeverMatches) {
  EXPECT_FALSE(verify_password("", ""));
  EXPECT_FALSE(verify_password("plaintext", "plaintext"));
  EXPECT_FALSE(verify_password(std::string(500, '$'), "x"));
}

TEST(Password, EmbeddedNulAndUtf8AreHashedWhole) {
  const std::string with_nul("ab\0cd", 5);
  const auto hash = hash_password(with_nul);
  EXPECT_TRUE(verify_password(hash, with_nul));
  EXPECT_FALSE(verify_password(hash, "ab"));
  const auto utf8 = hash_password("pässwört-✓");
  EXPECT_TRUE(verify_password(utf8, "pässwört-✓"));
}

}  // namespace
}  // namespace casedesk::daemon
