// libFuzzer target: parse_message + extract_codes + the `parse --json` dump on arbitrary bytes.
//
//   scripts/fuzz [SECONDS]     builds it with clang into build-fuzz and runs it on the mail corpora
//
// Any crash, sanitizer report, timeout, or exception escaping the parser is a finding. dump()
// throws on invalid UTF-8, so a finding also means "the JSON output was not valid UTF-8".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/codes.hpp"
#include "parsers/json.hpp"
#include "parsers/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  casedesk::parsers::Message msg = casedesk::parsers::parse_message(raw);
  std::vector<casedesk::parsers::Code> codes = casedesk::parsers::extract_codes(msg);
  nlohmann::json j = casedesk::parsers::to_json(msg);
  j["codes"] = casedesk::parsers::to_json(codes);
  std::string out = j.dump();  // throws type_error 316 on invalid UTF-8
  for (const auto& a : msg.attachments) {
    if (a.text) nlohmann::json(*a.text).dump();
  }
  return 0;
}
