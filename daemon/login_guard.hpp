#pragma once
// Throttling of failed sign-ins, so that guessing passwords is slow without letting one address
// (or everyone behind one reverse proxy) lock every consultant out.
//
// Failures are counted in sliding windows under three keys:
//  - per (client address, account): a few failures lock that account for that address only;
//  - per account, from any address: more failures lock the account everywhere (distributed guessing);
//  - per client address, over all accounts: a much higher bound (one address trying many names).
// A correct password clears the account's two counts; it is accepted whenever none of the three
// bounds is reached. Account names are compared case-insensitively.
//
// Pure logic: time is passed in (Unix seconds). Thread-safe (one mutex). Memory is bounded: keys
// whose failures aged out are dropped, and past max_keys everything is forgotten.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace casedesk::daemon {

struct LoginPolicy {
  int per_address_account = 5;        // failures of one account from one address ...
  std::int64_t address_account_window = 300;  // ... within this many seconds
  int per_account = 20;               // failures of one account from anywhere ...
  std::int64_t account_window = 300;
  int per_address = 100;              // failures from one address, any account ...
  std::int64_t address_window = 600;
  std::size_t max_keys = 100000;
};

class LoginGuard {
 public:
  explicit LoginGuard(LoginPolicy policy = {});

  // Seconds until a sign-in by `address` as `account` may be tried again; 0 = try it now.
  std::int64_t blocked_for(std::string_view address, std::string_view account, std::int64_t now);
  // A wrong password (or an unknown account).
  void failure(std::string_view address, std::string_view account, std::int64_t now);
  // A correct password: the account's failures are forgotten (the address's stay).
  void success(std::string_view address, std::string_view account);

 private:
  struct Bound {
    int max;
    std::int64_t window;
  };
  using Windows = std::unordered_map<std::string, std::deque<std::int64_t>>;
  static std::int64_t wait_of(Windows& w, const std::string& key, Bound b, std::int64_t now);
  static void add(Windows& w, const std::string& key, Bound b, std::int64_t now);
  void forget_aged(std::int64_t now);

  LoginPolicy policy_;
  std::mutex mutex_;
  Windows by_address_account_, by_account_, by_address_;
};

}  // namespace casedesk::daemon
