// PDF text extraction with poppler-cpp, guarded: size limits, page/text caps, every poppler call in
// try/catch, poppler's own diagnostics silenced (they can quote document content).

#include "parsers/pdf_text.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <new>

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

namespace casedesk::parsers {

namespace {

void silence_poppler(const std::string& /*message*/, void* /*closure*/) {}

void install_silencer() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function(silence_poppler, nullptr); });
}

}  // namespace

PdfText pdf_text(std::string_view pdf_bytes) {
  PdfText out;
  if (pdf_bytes.size() > kMaxPdfBytes) {
    out.warning = "PDF attachment too large for text extraction (" + std::to_string(pdf_bytes.size()) + " bytes)";
    return out;
  }
  if (pdf_bytes.size() < 8 || pdf_bytes.find("%PDF-") == std::string_view::npos) {
    out.warning = "PDF attachment is not a PDF file: text not extracted";
    return out;
  }
  try {
    install_silencer();
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(pdf_bytes.data(), static_cast<int>(pdf_bytes.size())));
    if (!doc) {
      out.warning = "PDF attachment could not be read: text not extracted";
      return out;
    }
    if (doc->is_locked()) {
      out.warning = "PDF attachment is encrypted: text not extracted";
      return out;
    }
    int pages = doc->pages();
    if (pages > kMaxPdfPages) {
      out.warning = "PDF attachment has " + std::to_string(pages) + " pages: text of the first " +
                    std::to_string(kMaxPdfPages) + " extracted";
      pages = kMaxPdfPages;
    }
    std::string text;
    for (int i = 0; i < pages; ++i) {
      std::unique_ptr<poppler::page> page(doc->create_page(i));
      if (!page) continue;
      // Physical layout keeps table rows on one line (a modifier column stays next to its code).
      poppler::byte_array utf8 = page->text(poppler::rectf(), poppler::page::physical_layout).to_utf8();
      if (i > 0) text += '\f';
      text.append(utf8.data(), utf8.size());
      if (text.size() > kMaxPdfTextBytes) {
        text.resize(kMaxPdfTextBytes);
        out.warning = "PDF attachment text truncated";
        break;
      }
    }
    // Strip NULs defensively.
    std::string clean;
    clean.reserve(text.size());
    for (char c : text) {
      if (c != '\0') clean.push_back(c);
    }
    out.text = std::move(clean);
  } catch (const std::bad_alloc&) {
    out.text.reset();
    out.warning = "PDF attachment could not be read (out of memory): text not extracted";
  } catch (...) {
    out.text.reset();
    out.warning = "PDF attachment could not be read: text not extracted";
  }
  return out;
}

}  // namespace casedesk::parsers
