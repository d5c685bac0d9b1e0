#pragma once
// HTML -> readable plain text for mail bodies. Pure; never throws except std::bad_alloc.

#include <string>
#include <string_view>

namespace casedesk::parsers {

// Block elements (p, div, br, tr, td, li, h1-h6, table, ...) become line breaks, list items get
// "- ", script/style/head/noscript/template content is dropped, comments and other tags vanish,
// character references (named, decimal, hex) are decoded. Input and output are UTF-8.
std::string html_to_text(std::string_view html);

// Decodes HTML character references in `text` (the common named ones, &#N; and &#xH;).
std::string decode_html_entities(std::string_view text);

}  // namespace casedesk::parsers
