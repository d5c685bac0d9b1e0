#pragma once
// Helpers shared by the parser tests that read .eml fixtures.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "parsers/charset.hpp"
#include "parsers/message.hpp"

namespace casedesk::parsers::testing {

// The bytes of tests/fixtures/mail/parsers/NAME (a failed expectation when missing or empty).
inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(CASEDESK_FIXTURES "/mail/parsers/") + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

inline bool has_warning(const Message& m, const std::string& needle) {
  return std::any_of(m.warnings.begin(), m.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

inline std::string squash(const std::string& s) { return collapse_whitespace(s); }

}  // namespace casedesk::parsers::testing
