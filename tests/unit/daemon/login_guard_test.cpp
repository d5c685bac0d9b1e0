// LoginGuard (issue 12 item 7): failed sign-ins counted per (address, account), per account and
// per address, with the clock passed in.
#include "daemon/login_guard.hpp"

#include <gtest/gtest.h>

#include <string>

namespace casedesk::daemon {
namespace {

constexpr std::int64_t kT0 = 1795702500;

TEST(AdversarialLoginGuard, FailuresUnderOtherNamesDoNotLockAnAccount) {
  LoginGuard g;
  // Before: five failures under any names from one address locked everyone out.
  for (int i = 0; i < 10; ++i) g.failure("10.0.0.1", "mallory" + std::to_string(i % 2), kT0 + i);
  EXPECT_EQ(g.blocked_for("10.0.0.1", "alice", kT0 + 10), 0);
  EXPECT_GT(g.blocked_for("10.0.0.1", "mallory0", kT0 + 10), 0);
  // The same names from another address are not locked (fewer than the per-account bound).
  EXPECT_EQ(g.blocked_for("10.0.0.2", "mallory0", kT0 + 10), 0);
}

TEST(AdversarialLoginGuard, BehindOneProxyAddressUsersDoNotLockEachOtherOut) {
  LoginGuard g;
  for (int user = 0; user < 15; ++user)
    for (int i = 0; i < 5; ++i) g.failure("10.9.9.9", "user" + std::to_string(user), kT0 + user);
  EXPECT_EQ(g.blocked_for("10.9.9.9", "alice", kT0 + 20), 0);  // 75 < 100 from that address
  EXPECT_GT(g.blocked_for("10.9.9.9", "user3", kT0 + 20), 0);
}

TEST(AdversarialLoginGuard, PerAddressAccountBoundAgesOut) {
  LoginGuard g;  // 5 in 300 s
  for (int i = 0; i < 4; ++i) g.failure("a", "ann", kT0 + i);
  EXPECT_EQ(g.blocked_for("a", "ann", kT0 + 10), 0);
  g.failure("a", "ann", kT0 + 10);
  EXPECT_EQ(g.blocked_for("a", "ann", kT0 + 11), 289);  // the first failure (kT0) ages out at kT0+300
  EXPECT_EQ(g.blocked_for("a", "ANN", kT0 + 11), 289);  // names fold case
  EXPECT_EQ(g.blocked_for("a", "ann", kT0 + 300), 0);
}

TEST(AdversarialLoginGuard, PerAccountBoundCatchesDistributedGuessing) {
  LoginPolicy p;
  p.per_account = 20;
  LoginGuard g(p);
  for (int i = 0; i < 19; ++i) g.failure("10.0.1." + std::to_string(i), "ann", kT0);
  EXPECT_EQ(g.blocked_for("10.0.2.1", "ann", kT0 + 1), 0);
  g.failure("10.0.1.99", "ann", kT0 + 1);
  EXPECT_GT(g.blocked_for("10.0.2.1", "ann", kT0 + 2), 0);
  EXPECT_EQ(g.blocked_for("10.0.2.1", "bob", kT0 + 2), 0);
  EXPECT_EQ(g.blocked_for("10.0.2.1", "ann", kT0 + 301), 0);
}

TEST(AdversarialLoginGuard, PerAddressBoundIsMuchHigher) {
  LoginGuard g;  // 100 in 600 s
  for (int i = 0; i < 99; ++i) g.failure("10.0.0.7", "name" + std::to_string(i), kT0 + i);
  EXPECT_EQ(g.blocked_for("10.0.0.7", "alice", kT0 + 100), 0);
  g.failure("10.0.0.7", "name99", kT0 + 100);
  EXPECT_EQ(g.blocked_for("10.0.0.7", "alice", kT0 + 101), 499);  // until the first ages out at kT0+600
  EXPECT_EQ(g.blocked_for("10.0.0.8", "alice", kT0 + 101), 0);
  EXPECT_EQ(g.blocked_for("10.0.0.7", "alice", kT0 + 600), 0);
}

TEST(AdversarialLoginGuard, SuccessClearsTheAccountButNotTheAddress) {
  LoginPolicy p;
  p.per_address = 6;
  LoginGuard g(p);
  for (int i = 0; i < 4; ++i) g.failure("a", "ann", kT0);
  g.success("a", "ann");
  for (int i = 0; i < 4; ++i) g.failure("a", "ann", kT0 + 1);
  // ann's own count restarted at 4 (< 5), but the address has 8 failures (>= 6) since kT0.
  EXPECT_EQ(g.blocked_for("a", "ann", kT0 + 2), 598);
  EXPECT_EQ(g.blocked_for("b", "ann", kT0 + 2), 0);
}

TEST(AdversarialLoginGuard, MemoryIsBounded) {
  LoginPolicy p;
  p.max_keys = 1000;
  LoginGuard g(p);
  for (int i = 0; i < 5000; ++i) g.failure("10." + std::to_string(i), "u" + std::to_string(i), kT0);
  // Still works, and old keys were forgotten rather than kept forever.
  g.failure("x", "ann", kT0);
  EXPECT_EQ(g.blocked_for("x", "ann", kT0), 0);
}

}  // namespace
}  // namespace casedesk::daemon
