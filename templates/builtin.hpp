#pragma once
// The templates compiled into the binary (from templates/defaults/*.mustache).

#include <string_view>
#include <vector>

namespace casedesk::templates {

struct BuiltinTemplate {
  std::string_view name;    // "ack.txt", "ack.html"
  std::string_view source;  // Mustache text
};

const std::vector<BuiltinTemplate>& builtin_templates();

}  // namespace casedesk::templates
