// JSON shape of extracted billing codes (see parsers/json.hpp).

#include <string>

#include "parsers/json.hpp"

namespace casedesk::parsers {

namespace {

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json mention_json(const CodeMention& m) {
  return nlohmann::json{{"where", m.where},
                        {"start", m.start},
                        {"end", m.end},
                        {"modifiers", m.modifiers},
                        {"units", optional_json(m.units)}};
}

}  // namespace

nlohmann::json to_json(const std::vector<Code>& codes) {
  nlohmann::json out = nlohmann::json::array();
  for (const Code& c : codes) {
    nlohmann::json mentions = nlohmann::json::array();
    for (const CodeMention& m : c.mentions) mentions.push_back(mention_json(m));
    out.push_back(nlohmann::json{{"code", c.code},
                                 {"system", std::string(to_string(c.system))},
                                 {"modifiers", c.modifiers},
                                 {"units", optional_json(c.units)},
                                 {"range_end", optional_json(c.range_end)},
                                 {"found_in", c.found_in},
                                 {"alternatives", c.alternatives},
                                 {"mentions", std::move(mentions)},
                                 {"status", optional_json(c.status)},
                                 {"notes", c.notes}});
  }
  return out;
}

}  // namespace casedesk::parsers
