#include "daemon/login_guard.hpp"

#include <algorithm>

namespace casedesk::daemon {

namespace {

std::string fold(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// NUL cannot occur in an address, so the pair key is unambiguous.
std::string pair_key(std::string_view address, std::string_view account) {
  std::string k(address);
  k.push_back('\0');
  k += fold(account);
  return k;
}

void prune(std::deque<std::int64_t>& q, std::int64_t window, std::int64_t now) {
  while (!q.empty() && q.front() + window <= now) q.pop_front();
}

}  // namespace

LoginGuard::LoginGuard(LoginPolicy policy) : policy_(policy) {}

std::int64_t LoginGuard::wait_of(Windows& w, const std::string& key, Bound b, std::int64_t now) {
  auto it = w.find(key);
  if (it == w.end()) return 0;
  prune(it->second, b.window, now);
  if (static_cast<int>(it->second.size()) < b.max) return 0;
  // Blocked until enough of the failures age out to bring the count below the bound.
  return it->second[it->second.size() - static_cast<std::size_t>(b.max)] + b.window - now;
}

void LoginGuard::add(Windows& w, const std::string& key, Bound b, std::int64_t now) {
  auto& q = w[key];
  prune(q, b.window, now);
  q.push_back(now);
  while (static_cast<int>(q.size()) > b.max) q.pop_front();
}

void LoginGuard::forget_aged(std::int64_t now) {
  auto sweep = [now](Windows& w, std::int64_t window) {
    for (auto it = w.begin(); it != w.end();) {
      prune(it->second, window, now);
      it = it->second.empty() ? w.erase(it) : std::next(it);
    }
  };
  sweep(by_address_account_, policy_.address_account_window);
  sweep(by_account_, policy_.account_window);
  sweep(by_address_, policy_.address_window);
  if (by_address_account_.size() + by_account_.size() + by_address_.size() > policy_.max_keys) {
    by_address_account_.clear();
    by_account_.clear();
    by_address_.clear();
  }
}

std::int64_t LoginGuard::blocked_for(std::string_view address, std::string_view account, std::int64_t now) {
  std::lock_guard lock(mutex_);
  return std::max({wait_of(by_address_account_, pair_key(address, account),
                           {policy_.per_address_account, policy_.address_account_window}, now),
                   wait_of(by_account_, fold(account), {policy_.per_account, policy_.account_window}, now),
                   wait_of(by_address_, std::string(address), {policy_.per_address, policy_.address_window}, now)});
}

void LoginGuard::failure(std::string_view address, std::string_view account, std::int64_t now) {
  std::lock_guard lock(mutex_);
  if (by_address_account_.size() + by_account_.size() + by_address_.size() > policy_.max_keys / 2) forget_aged(now);
  add(by_address_account_, pair_key(address, account), {policy_.per_address_account, policy_.address_account_window},
      now);
  add(by_account_, fold(account), {policy_.per_account, policy_.account_window}, now);
  add(by_address_, std::string(address), {policy_.per_address, policy_.address_window}, now);
}

void LoginGuard::success(std::string_view address, std::string_view account) {
  std::lock_guard lock(mutex_);
  by_address_account_.erase(pair_key(address, account));
  by_account_.erase(fold(account));
}

}  // namespace casedesk::daemon
