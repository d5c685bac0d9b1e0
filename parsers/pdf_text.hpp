#pragma once
// Text of a PDF attachment, extracted with poppler-cpp. Pure (no I/O); never throws on bad input.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace casedesk::parsers {

struct PdfText {
  std::optional<std::string> text;     // UTF-8, pages separated by '\f'; nullopt when nothing could be read
  std::optional<std::string> warning;  // set when the PDF was rejected, broken, encrypted or truncated
};

// Limits: PDFs larger than kMaxPdfBytes are not opened; at most kMaxPdfPages pages and
// kMaxPdfTextBytes bytes of text are returned (a warning says so).
inline constexpr std::size_t kMaxPdfBytes = 20u * 1024 * 1024;
inline constexpr int kMaxPdfPages = 200;
inline constexpr std::size_t kMaxPdfTextBytes = 4u * 1024 * 1024;

PdfText pdf_text(std::string_view pdf_bytes);

}  // namespace casedesk::parsers
