#pragma once
// Mustache rendering of reply templates. Built-in defaults, each overridable by a file of the same
// name ("ack.txt.mustache", "ack.html.mustache") in an override folder. Pure after construction;
// a Renderer may be used from several threads for rendering (render is const and stateless).

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace casedesk::templates {

class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Renderer {
 public:
  // Loads the built-in templates and any overrides in override_dir (empty = none).
  // @throw TemplateError when an override cannot be read or does not compile (file and reason).
  explicit Renderer(const std::filesystem::path& override_dir = {});
  // The web UI's page templates (templates/web/*.mustache, built in, not overridable) instead of
  // the reply templates.
  static Renderer web_pages();

  ~Renderer();
  Renderer(Renderer&&) noexcept;
  Renderer& operator=(Renderer&&) noexcept;

  // Renders template `name` ("ack.txt", "ack.html"). Names ending in ".html" HTML-escape {{vars}};
  // others insert text as is. @throw TemplateError for an unknown name or a render error.
  std::string render(std::string_view name, const nlohmann::json& context) const;

  bool has(std::string_view name) const;
  // Where a template came from: "built-in" or the override file's path.
  std::string origin(std::string_view name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace casedesk::templates
