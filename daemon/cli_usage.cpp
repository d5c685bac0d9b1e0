#include "daemon/cli_usage.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <ostream>

#include "daemon/review_commands.hpp"

namespace casedesk::daemon {
namespace {

char fold(char ch) { return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch; }

// The root's name is argv[0] after parse; users know the program as "casedesk".
std::string command_path(const std::vector<const CLI::App*>& chain) {
  std::string path = "casedesk";
  for (std::size_t i = 1; i < chain.size(); ++i) path += " " + chain[i]->get_name();
  return path;
}

// The root and the subcommands given on the command line, outermost first.
std::vector<const CLI::App*> parsed_chain(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  for (;;) {
    const auto parsed = chain.back()->get_subcommands();
    const auto next = std::find_if(parsed.begin(), parsed.end(), [](const CLI::App* s) { return !s->get_name().empty(); });
    if (next == parsed.end()) return chain;
    chain.push_back(*next);
  }
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty() && !s->get_disabled(); }))
    names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string with_suggestion(std::string message, const std::optional<std::string>& suggestion) {
  if (suggestion) message += "; did you mean '" + *suggestion + "'?";
  return message;
}

// A word from the command line shown in one line: control characters as '?'.
std::string printable(std::string_view word) {
  std::string out(word);
  for (auto& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  return out;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the optimal-string-alignment table are enough.
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]))
        row[j] = std::min(row[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, row);
  }
  return prev[b.size()];
}

std::optional<std::string> closest_word(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;  // within two edits
  for (const auto& c : candidates) {
    const auto d = edit_distance(word, c);
    if (d < best_distance && d < word.size()) {
      best = c;
      best_distance = d;
    }
  }
  if (best) return best;
  // Stripped of any dashes, a prefix of 2+ characters naming one candidate ("quar" -> "quarantine").
  const auto bare = word.substr(std::min(word.find_first_not_of('-'), word.size()));
  if (bare.size() < 2) return std::nullopt;
  std::optional<std::string> only;
  for (const auto& c : candidates) {
    if (c.size() > word.size() &&
        std::equal(word.begin(), word.end(), c.begin(), [](char x, char y) { return fold(x) == fold(y); })) {
      if (only) return std::nullopt;  // ambiguous
      only = c;
    }
  }
  return only;
}

std::string usage_error_message(const CLI::App& app, const CLI::ParseError& e) {
  const auto chain = parsed_chain(app);
  const std::string hint = "casedesk: see '" + command_path(chain) + " --help'\n";
  // An unknown word explains the rest (a missing required argument is often the same typo).
  for (const auto* cmd : chain) {
    const auto left = cmd->remaining();
    if (left.empty()) continue;
    const std::string& word = left.front();
    const std::string path = command_path({chain.begin(), std::find(chain.begin(), chain.end(), cmd) + 1});
    const std::string cmd_hint = "casedesk: see '" + path + " --help'\n";
    if (word.size() > 1 && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      return with_suggestion("casedesk: unknown option '" + printable(name) + "'", closest_word(name, option_names(*cmd))) +
             "\n" + cmd_hint;
    }
    const auto commands = subcommand_names(*cmd);
    if (!commands.empty())
      return with_suggestion("casedesk: unknown command '" + printable(word) + "'", closest_word(word, commands)) + "\n" +
             cmd_hint;
    return "casedesk: unexpected argument '" + printable(word) + "'\n" + cmd_hint;
  }
  const auto* inner = chain.back();
  const auto commands = subcommand_names(*inner);
  if (dynamic_cast<const CLI::RequiredError*>(&e) && !commands.empty() && inner->get_subcommands().empty()) {
    const std::string which = chain.size() == 1 ? "a command" : "a command after '" + command_path(chain) + "'";
    return "casedesk: " + which + " is required (" + joined(commands) + ")\n" + hint;
  }
  std::string what = e.what();
  if (!what.empty()) what[0] = fold(what[0]);
  const std::string where = chain.size() == 1 ? "" : command_path(chain).substr(9) + ": ";
  return "casedesk: " + where + printable(what) + "\n" + hint;
}

int report_parse_error(const CLI::App& app, const CLI::ParseError& e, std::ostream& out, std::ostream& err) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e, out, err);  // --help, --version
  err << usage_error_message(app, e);
  return kExitUsage;
}

}  // namespace casedesk::daemon
