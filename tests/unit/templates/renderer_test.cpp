#include "templates/renderer.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

using casedesk::templates::Renderer;
using casedesk::templates::TemplateError;
using nlohmann::json;

namespace {

// The shape daemon/replies.cpp's ack_context() produces.
json code_json(const std::string& code, const std::string& system, const std::vector<std::string>& modifiers,
               std::optional<int> units, std::optional<std::string> range_end) {
  std::string text;
  for (const auto& m : modifiers) text += (text.empty() ? "" : ", ") + m;
  return json{{"code", code},
              {"system", system},
              {"modifiers", modifiers},
              {"modifiers_text", modifiers.empty() ? json(nullptr) : json(text)},
              {"units", units ? json(*units) : json(nullptr)},
              {"range_end", range_end ? json(*range_end) : json(nullptr)}};
}

json ack_context(const std::string& subject, json codes = json::array(), json submitter = "Dr. Anna Meier") {
  return json{{"desk_name", "Coding Desk"},
              {"case_ref", "CD-000123"},
              {"subject", subject},
              {"submitter_name", submitter},
              {"has_codes", !codes.empty()},
              {"code_count", codes.size()},
              {"codes", codes}};
}

json two_codes() {
  return json::array({code_json("64635", "CPT", {"50", "RT"}, 2, std::nullopt),
                      code_json("99202", "CPT", {}, std::nullopt, "99215")});
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "casedesk-renderer-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST(Renderer, BuiltinTemplatesAreAvailable) {
  Renderer r;
  EXPECT_TRUE(r.has("ack.txt"));
  EXPECT_TRUE(r.has("ack.html"));
  EXPECT_FALSE(r.has("ack"));
  EXPECT_FALSE(r.has("nope.txt"));
  EXPECT_EQ(r.origin("ack.txt"), "built-in");
  EXPECT_EQ(r.origin("ack.html"), "built-in");
  EXPECT_EQ(r.origin("nope.txt"), "");
}

TEST(Renderer, AckTxtShowsRefSubjectAndCodes) {
  Renderer r;
  std::string out = r.render("ack.txt", ack_context("Modifier 50 for 64635?", two_codes()));
  EXPECT_TRUE(contains(out, "Hello Dr. Anna Meier,")) << out;
  EXPECT_TRUE(contains(out, "opened case CD-000123")) << out;
  EXPECT_TRUE(contains(out, "[CD-000123]")) << out;
  EXPECT_TRUE(contains(out, "Subject: Modifier 50 for 64635?")) << out;
  EXPECT_TRUE(contains(out, "- 64635 (CPT), modifiers 50, RT, 2 units")) << out;
  EXPECT_TRUE(contains(out, "- 99202 (CPT), range to 99215")) << out;
  EXPECT_FALSE(contains(out, "99202 (CPT), modifiers")) << out;
  EXPECT_FALSE(contains(out, "We did not find any billing codes")) << out;
  EXPECT_TRUE(contains(out, "Coding Desk")) << out;
  EXPECT_FALSE(contains(out, "{{")) << out;
}

TEST(Renderer, AckTxtWithoutCodesOrName) {
  Renderer r;
  std::string out = r.render("ack.txt", ack_context("Question", json::array(), nullptr));
  EXPECT_EQ(out.rfind("Hello,", 0), 0u) << out;
  EXPECT_TRUE(contains(out, "We did not find any billing codes")) << out;
  EXPECT_FALSE(contains(out, "The codes we found")) << out;
  EXPECT_TRUE(contains(out, "CD-000123")) << out;
}

TEST(Renderer, AckHtmlShowsRefSubjectAndCodes) {
  Renderer r;
  std::string out = r.render("ack.html", ack_context("Modifier 50 for 64635?", two_codes()));
  EXPECT_TRUE(contains(out, "<strong>CD-000123</strong>")) << out;
  EXPECT_TRUE(contains(out, "<em>Modifier 50 for 64635?</em>")) << out;
  EXPECT_TRUE(contains(out, "<td>64635</td><td>CPT</td><td>50, RT</td><td>2</td>")) << out;
  EXPECT_TRUE(contains(out, "<td>99202&ndash;99215</td>")) << out;
  EXPECT_TRUE(contains(out, "Hello Dr. Anna Meier,")) << out;
  EXPECT_FALSE(contains(out, "We did not find any billing codes")) << out;
}

TEST(Renderer, HtmlTemplatesEscapeValues) {
  Renderer r;
  const std::string subject = "<script>alert(1)</script> & \"x\"";
  std::string out = r.render("ack.html", ack_context(subject, json::array(), "Tom & <b>Jerry</b>"));
  EXPECT_FALSE(contains(out, "<script>")) << out;
  EXPECT_FALSE(contains(out, "<b>Jerry")) << out;
  EXPECT_TRUE(contains(out, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; ")) << out;
  EXPECT_TRUE(contains(out, "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;")) << out;
}

TEST(Renderer, TextTemplatesInsertValuesAsIs) {
  Renderer r;
  const std::string subject = "<script>alert(1)</script> & \"x\"";
  std::string out = r.render("ack.txt", ack_context(subject, json::array(), "Tom & Jerry"));
  EXPECT_TRUE(contains(out, "Subject: " + subject)) << out;
  EXPECT_TRUE(contains(out, "Hello Tom & Jerry,")) << out;
  EXPECT_FALSE(contains(out, "&lt;")) << out;
  EXPECT_FALSE(contains(out, "&amp;")) << out;
}

TEST(Renderer, UnknownTemplateThrows) {
  Renderer r;
  EXPECT_THROW(r.render("reply.txt", ack_context("x")), TemplateError);
  EXPECT_THROW(r.render("", ack_context("x")), TemplateError);
}

TEST(Renderer, OverrideReplacesOnlyThatTemplate) {
  TempDir dir;
  auto file = dir.write("ack.txt.mustache", "Case {{case_ref}}: {{subject}}{{#codes}} [{{code}}]{{/codes}}\n");
  Renderer r(dir.path());
  EXPECT_EQ(r.origin("ack.txt"), file.string());
  EXPECT_EQ(r.origin("ack.html"), "built-in");
  EXPECT_EQ(r.render("ack.txt", ack_context("A & B", two_codes())), "Case CD-000123: A & B [64635] [99202]\n");
  std::string html = r.render("ack.html", ack_context("A & B", two_codes()));
  EXPECT_TRUE(contains(html, "<strong>CD-000123</strong>")) << html;
}

TEST(Renderer, HtmlOverrideStillEscapes) {
  TempDir dir;
  dir.write("ack.html.mustache", "<p>{{subject}}</p><p>{{{subject}}}</p>");
  Renderer r(dir.path());
  EXPECT_NE(r.origin("ack.html"), "built-in");
  EXPECT_EQ(r.render("ack.html", ack_context("<i>")), "<p>&lt;i&gt;</p><p><i></p>");
}

TEST(Renderer, EmptyOverrideDirKeepsBuiltins) {
  TempDir dir;
  dir.write("unrelated.mustache", "{{#broken}}");
  Renderer r(dir.path());
  EXPECT_EQ(r.origin("ack.txt"), "built-in");
  EXPECT_EQ(r.origin("ack.html"), "built-in");
  EXPECT_FALSE(r.has("unrelated"));
}

TEST(Renderer, MalformedOverrideThrowsNamingTheFile) {
  TempDir dir;
  auto file = dir.write("ack.txt.mustache", "Hello {{#x}} never closed\n");
  try {
    Renderer r(dir.path());
    FAIL() << "expected TemplateError";
  } catch (const TemplateError& e) {
    EXPECT_TRUE(contains(e.what(), file.string())) << e.what();
  }
}

TEST(Renderer, UnreadableOverrideThrows) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "ack.txt.mustache");
  EXPECT_THROW(Renderer{dir.path()}, TemplateError);
}

TEST(Renderer, MovedRendererStillRenders) {
  TempDir dir;
  dir.write("ack.txt.mustache", "{{case_ref}}");
  Renderer a(dir.path());
  Renderer b(std::move(a));
  EXPECT_EQ(b.render("ack.txt", ack_context("x")), "CD-000123");
  Renderer c;
  c = std::move(b);
  EXPECT_EQ(c.render("ack.txt", ack_context("x")), "CD-000123");
}

TEST(Renderer, MissingOverrideFolderIsAnError) {
  EXPECT_THROW(casedesk::templates::Renderer("/nonexistent/casedesk-templates"), casedesk::templates::TemplateError);
}
