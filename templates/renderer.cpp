#include "templates/renderer.hpp"

#include <fstream>
#include <kainjow/mustache.hpp>
#include <map>
#include <sstream>

#include "templates/builtin.hpp"

namespace casedesk::templates {
namespace mus = kainjow::mustache;

namespace {

// The mustache data for a JSON value, built top-down in place. kainjow's set() and push_back()
// copy their argument, so building children first and adding them would deep-copy every subtree
// once per level (a queue page's rows three times over); here each container is added empty and
// filled where it lives. The const_cast is sound: get() and list_value() only add const to
// elements the data object owns and does not hold as const.
mus::data shell(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: return mus::data{mus::data::type::object};
    case nlohmann::json::value_t::array: return mus::data{mus::data::type::list};
    case nlohmann::json::value_t::string: return mus::data{j.get_ref<const std::string&>()};
    case nlohmann::json::value_t::boolean:
      return j.get<bool>() ? mus::data{mus::data::type::bool_true} : mus::data{mus::data::type::bool_false};
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded: return mus::data{mus::data::type::bool_false};
    default: return mus::data{j.dump()};
  }
}

void fill(mus::data& d, const nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      d.set(it.key(), shell(*it));
      if (it->is_structured()) fill(const_cast<mus::data&>(*d.get(it.key())), *it);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      d.push_back(shell(v));
      if (v.is_structured()) fill(const_cast<mus::data&>(d.list_value().back()), v);
    }
  }
}

mus::data to_data(const nlohmann::json& j) {
  mus::data d = shell(j);
  fill(d, j);
  return d;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct Renderer::Impl {
  struct Entry {
    std::string source;
    std::string origin;
  };
  std::map<std::string, Entry, std::less<>> templates;
};

Renderer::Renderer(const std::filesystem::path& override_dir) : impl_(std::make_unique<Impl>()) {
  for (const auto& t : builtin_templates())
    impl_->templates[std::string(t.name)] = {std::string(t.source), "built-in"};
  if (override_dir.empty()) return;
  std::error_code dir_ec;
  if (!std::filesystem::is_directory(override_dir, dir_ec))
    throw TemplateError(override_dir.string() + ": template folder does not exist or is not a folder");
  for (auto& [name, entry] : impl_->templates) {
    std::filesystem::path file = override_dir / (name + ".mustache");
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) continue;
    // A directory opens as an ifstream and reads as empty: it would silently become an empty template.
    if (!std::filesystem::is_regular_file(file, ec)) throw TemplateError(file.string() + ": not a regular file");
    std::ifstream in(file, std::ios::binary);
    if (!in.is_open()) throw TemplateError(file.string() + ": cannot read");
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw TemplateError(file.string() + ": cannot read");
    mus::mustache compiled{text.str()};
    if (!compiled.is_valid()) throw TemplateError(file.string() + ": " + compiled.error_message());
    entry = {text.str(), file.string()};
  }
}

Renderer Renderer::web_pages() {
  Renderer r;
  r.impl_->templates.clear();
  for (const auto& t : web_templates()) r.impl_->templates[std::string(t.name)] = {std::string(t.source), "built-in"};
  return r;
}

Renderer::~Renderer() = default;
Renderer::Renderer(Renderer&&) noexcept = default;
Renderer& Renderer::operator=(Renderer&&) noexcept = default;

bool Renderer::has(std::string_view name) const { return impl_->templates.find(name) != impl_->templates.end(); }

std::string Renderer::origin(std::string_view name) const {
  auto it = impl_->templates.find(name);
  return it == impl_->templates.end() ? std::string{} : it->second.origin;
}

std::string Renderer::render(std::string_view name, const nlohmann::json& context) const {
  auto it = impl_->templates.find(name);
  if (it == impl_->templates.end()) throw TemplateError("no template named " + std::string(name));
  mus::mustache tmpl{it->second.source};
  if (!tmpl.is_valid()) throw TemplateError(it->second.origin + ": " + tmpl.error_message());
  if (!ends_with(name, ".html")) tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(to_data(context));
  if (!tmpl.is_valid()) throw TemplateError(it->second.origin + ": " + tmpl.error_message());
  return out;
}

}  // namespace casedesk::templates
