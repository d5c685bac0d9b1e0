// The ack warns, politely, when a mail likely carries patient information (never for a phone
// number alone); the intake stores PHI kinds and narrative suggestions on the case; the text ack
// has no doubled blank lines whichever sections are empty.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/intake.hpp"
#include "daemon/replies.hpp"
#include "parsers/code_sets.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk {
namespace {

daemon::DeskIdentity desk() { return {"Coding Desk", parsers::Address{"desk@desk.example", "Coding Desk"}}; }

queue::CaseDetail case_with_phi(std::vector<std::string> phi) {
  queue::CaseDetail c;
  c.summary.ref = "CD-000042";
  c.summary.subject = "Knee injection";
  c.summary.phi = std::move(phi);
  return c;
}

const std::string kWarning = "Your message seems to contain patient information";

TEST(AckPhi, WarnsForPatientIdentifiers) {
  auto ctx = daemon::ack_context(case_with_phi({"dob", "member_id"}), desk());
  EXPECT_EQ(ctx["phi_warning"], true);
  EXPECT_EQ(ctx["phi_kinds_text"], "a date of birth and a member or subscriber ID");
  templates::Renderer renderer;
  const std::string text = renderer.render("ack.txt", ctx);
  EXPECT_NE(text.find(kWarning + " (a date of birth and a member or subscriber ID)."), std::string::npos) << text;
  EXPECT_NE(text.find("Please don't send patient information"), std::string::npos) << text;
  EXPECT_NE(text.find("We have stored your case"), std::string::npos) << text;
  const std::string html = renderer.render("ack.html", ctx);
  EXPECT_NE(html.find(kWarning), std::string::npos) << html;
  EXPECT_NE(html.find("member or subscriber ID"), std::string::npos) << html;
}

TEST(AckPhi, EachPatientKindWarns) {
  for (const char* kind : {"ssn", "dob", "mrn", "member_id", "patient_name"}) {
    auto ctx = daemon::ack_context(case_with_phi({kind}), desk());
    EXPECT_EQ(ctx["phi_warning"], true) << kind;
    EXPECT_TRUE(ctx["phi_kinds_text"].is_string()) << kind;
  }
  auto ctx = daemon::ack_context(case_with_phi({"ssn", "dob", "phone", "patient_name"}), desk());
  EXPECT_EQ(ctx["phi_kinds_text"], "a patient's name, a date of birth and a Social Security number");
}

TEST(AckPhi, PhoneAloneOrNothingDoesNotWarn) {
  templates::Renderer renderer;
  for (const auto& phi : {std::vector<std::string>{"phone"}, std::vector<std::string>{}}) {
    auto ctx = daemon::ack_context(case_with_phi(phi), desk());
    EXPECT_EQ(ctx["phi_warning"], false);
    EXPECT_TRUE(ctx["phi_kinds_text"].is_null());
    EXPECT_EQ(renderer.render("ack.txt", ctx).find("patient information"), std::string::npos);
    EXPECT_EQ(renderer.render("ack.html", ctx).find("patient information"), std::string::npos);
  }
}

TEST(AckText, NoDoubledBlankLinesWhicheverSectionsAreEmpty) {
  templates::Renderer renderer;
  for (int m = 0; m < 8; ++m) {
    auto c = case_with_phi(m & 4 ? std::vector<std::string>{"mrn"} : std::vector<std::string>{});
    if (m & 1) {
      parsers::Code code;
      code.code = "99213";
      code.modifiers = {"25"};
      c.summary.codes = {code};
    }
    if (m & 2) c.summary.code_notes = {"Modifier 25 on 99213 ..."};
    const std::string text = renderer.render("ack.txt", daemon::ack_context(c, desk()));
    EXPECT_EQ(text.find("\n\n\n"), std::string::npos) << "sections " << m << ":\n" << text;
    // Paragraphs stay separated by one blank line.
    EXPECT_NE(text.find("\n\nWhat happens next"), std::string::npos) << text;
    if (m & 1) EXPECT_NE(text.find("\n\nIf a code is missing"), std::string::npos) << text;
    if (m & 2 && m & 1) EXPECT_NE(text.find("  * Modifier 25 on 99213 ...\n\nIf a code"), std::string::npos) << text;
  }
}

// A code-set lookup that suggests two fixed codes for any narrative.
class FakeSuggestions : public parsers::CodeSetLookup {
 public:
  bool has(parsers::CodeSystem s) const override { return s == parsers::CodeSystem::icd10cm; }
  bool has_add_on_edits() const override { return false; }
  std::optional<parsers::CodeInfo> find(parsers::CodeSystem, std::string_view) const override { return std::nullopt; }
  std::vector<parsers::CodeInfo> children(parsers::CodeSystem, std::string_view) const override { return {}; }
  std::optional<parsers::AddOnInfo> add_on(std::string_view) const override { return std::nullopt; }
  std::vector<parsers::Suggestion> suggest(parsers::CodeSystem system, std::string_view narrative,
                                           int limit) const override {
    narratives.emplace_back(narrative);
    std::vector<parsers::Suggestion> out = {{system, "M17.11", "Unilateral primary osteoarthritis, right knee", 9.5},
                                            {system, "M25.552", "Pain in left hip", 7.25}};
    if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
    return out;
  }
  mutable std::vector<std::string> narratives;
};

const std::string kMail =
    "From: Ana <ana@clinic.example>\r\nTo: desk@desk.example\r\nSubject: Knee injection\r\n"
    "Message-ID: <phi-1@clinic.example>\r\n\r\n"
    "Established pt (DOB 03/14/1962), R knee OA; call me at (509) 555-0143.\r\n"
    "Billed 20610-RT, dx M25.552.\r\n";

TEST(IntakePhi, PrepareIncomingStoresKindsAndSuggestions) {
  FakeSuggestions lookup;
  daemon::IntakeOptions options;
  options.code_sets = &lookup;
  auto mail = daemon::prepare_incoming(kMail, std::nullopt, options);
  EXPECT_EQ(mail.phi, (std::vector<std::string>{"dob", "phone"}));
  // M25.552 is written in the mail: it is an extracted code, never also a suggestion.
  ASSERT_EQ(mail.suggestions.size(), 1u);
  EXPECT_EQ(mail.suggestions[0].code, "M17.11");
  EXPECT_EQ(mail.suggestions[0].system, "ICD-10-CM");
  EXPECT_DOUBLE_EQ(mail.suggestions[0].score, 9.5);
  ASSERT_EQ(lookup.narratives.size(), 1u);
  EXPECT_EQ(lookup.narratives[0].rfind("Knee injection\n", 0), 0u) << lookup.narratives[0];
  EXPECT_NE(lookup.narratives[0].find("R knee OA"), std::string::npos);

  queue::Store store(queue::StoreOptions{":memory:"});
  auto c = store.get_case(store.enqueue(mail, 1000).case_id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->summary.phi, (std::vector<std::string>{"dob", "phone"}));
  ASSERT_EQ(c->summary.suggestions.size(), 1u);
  EXPECT_EQ(c->summary.suggestions[0].code, "M17.11");
  EXPECT_EQ(c->summary.suggestions[0].description, "Unilateral primary osteoarthritis, right knee");
  auto ctx = daemon::ack_context(*c, desk());
  EXPECT_EQ(ctx["phi_warning"], true);
  EXPECT_EQ(ctx["phi_kinds_text"], "a date of birth");
}

TEST(IntakePhi, NoCodeSetsNoSuggestions) {
  daemon::IntakeOptions options;
  auto mail = daemon::prepare_incoming(kMail, std::nullopt, options);
  EXPECT_TRUE(mail.suggestions.empty());
  EXPECT_EQ(mail.phi, (std::vector<std::string>{"dob", "phone"}));
}

}  // namespace
}  // namespace casedesk
