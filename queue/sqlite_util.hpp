#pragma once
// Helpers shared by the queue module's SQLite code (store.cpp, code_set_store.cpp). Internal to
// queue/: it includes SQLiteCpp, so no header outside this module may include it.

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casedesk::queue::detail {

// Lower-case hex SHA-256 of data. @throw StoreError if OpenSSL fails.
std::string sha256_hex(std::string_view data);

// Binds v, or NULL when it is empty.
template <class T>
void bind_opt(SQLite::Statement& q, int index, const std::optional<T>& v) {
  if (v)
    q.bind(index, *v);
  else
    q.bind(index);
}

inline std::optional<std::string> col_opt_str(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

inline std::optional<std::int64_t> col_opt_i64(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

}  // namespace casedesk::queue::detail
