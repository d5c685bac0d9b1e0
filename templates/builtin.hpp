#pragma once
// The templates compiled into the binary (from templates/defaults/*.mustache and templates/web/).

#include <string_view>
#include <vector>

namespace casedesk::templates {

struct BuiltinTemplate {
  std::string_view name;    // "ack.txt", "ack.html"
  std::string_view source;  // Mustache text
};

const std::vector<BuiltinTemplate>& builtin_templates();

// The web UI's page templates (from templates/web/*.mustache: "layout.html", "queue.html", ...).
const std::vector<BuiltinTemplate>& web_templates();
// The web UI's static files (the other files in templates/web/: "app.css"), source = content.
const std::vector<BuiltinTemplate>& web_assets();

}  // namespace casedesk::templates
