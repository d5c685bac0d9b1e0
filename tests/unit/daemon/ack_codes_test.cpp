// The ack lists validated codes in plain words (status_text) and the case-level code notes; the
// store keeps status and notes.
#include <gtest/gtest.h>

#include "daemon/replies.hpp"
#include "parsers/code_validation.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk {
namespace {

daemon::DeskIdentity desk() { return {"Coding Desk", parsers::Address{"desk@desk.example", "Coding Desk"}}; }

queue::IncomingMail validated_mail() {
  queue::IncomingMail mail;
  mail.raw = "From: anna@clinic.example\r\nSubject: RFA\r\nMessage-ID: <ack-codes@clinic.example>\r\n\r\nbody\r\n";
  mail.message = parsers::parse_message(mail.raw);
  parsers::Code header;
  header.code = "M54.5";
  header.system = parsers::CodeSystem::icd10cm;
  header.status = "header";
  header.notes = {"not billable — M54.5 is a category header; use a more specific code such as M54.50, M54.51, M54.59"};
  parsers::Code deleted;
  deleted.code = "64623";
  deleted.modifiers = {"59"};
  mail.codes = {header, deleted};
  mail.code_notes = parsers::validate_codes(mail.codes, nullptr, "2026-06-01");
  mail.codes[0] = header;  // as validated against a loaded ICD-10-CM set
  return mail;
}

TEST(AckCodes, StoreKeepsStatusAndNotes) {
  queue::Store store(queue::StoreOptions{":memory:"});
  auto r = store.enqueue(validated_mail(), 1000);
  auto c = store.get_case(r.case_id);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->summary.codes.size(), 2u);
  EXPECT_EQ(c->summary.codes[0].status, "header");
  EXPECT_EQ(c->summary.codes[1].status, "deleted");
  EXPECT_EQ(c->summary.codes[1].notes.size(), 1u);
  ASSERT_EQ(c->summary.code_notes.size(), 1u);
  EXPECT_NE(c->summary.code_notes[0].find("Modifier 59 on 64623"), std::string::npos);
}

TEST(AckCodes, AckListsStatusInPlainWords) {
  queue::Store store(queue::StoreOptions{":memory:"});
  auto r = store.enqueue(validated_mail(), 1000);
  auto c = store.get_case(r.case_id);
  ASSERT_TRUE(c);
  auto ctx = daemon::ack_context(*c, desk());
  EXPECT_EQ(ctx["codes"][0]["status"], "header");
  EXPECT_EQ(ctx["has_code_notes"], true);
  templates::Renderer renderer;
  const std::string text = renderer.render("ack.txt", ctx);
  EXPECT_NE(text.find("not billable — M54.5 is a category header; use a more specific code such as M54.50"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("64623 was deleted on 2012-01-01"), std::string::npos) << text;
  EXPECT_NE(text.find("Points we noticed"), std::string::npos) << text;
  const std::string html = renderer.render("ack.html", ctx);
  EXPECT_NE(html.find("Modifier 59 on 64623"), std::string::npos);
}

TEST(AckCodes, UnvalidatedCodesHaveNoStatusLine) {
  queue::Store store(queue::StoreOptions{":memory:"});
  auto mail = validated_mail();
  for (auto& code : mail.codes) {
    code.status.reset();
    code.notes.clear();
  }
  mail.code_notes.clear();
  auto c = store.get_case(store.enqueue(mail, 1000).case_id);
  auto ctx = daemon::ack_context(*c, desk());
  EXPECT_TRUE(ctx["codes"][0]["status_text"].is_null());
  EXPECT_EQ(templates::Renderer{}.render("ack.txt", ctx).find("Points we noticed"), std::string::npos);
}

}  // namespace
}  // namespace casedesk
