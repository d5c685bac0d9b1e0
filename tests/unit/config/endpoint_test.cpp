// URL parsing into Endpoint, TlsMode derivation and loopback detection.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace casedesk::config {
namespace {

// A valid config whose [imap] url / allow_insecure and [smtp] url / allow_insecure vary.
// The imap url is on line 2, the smtp url on line 7.
std::string config_text(const std::string& imap_url, const std::string& smtp_url,
                        bool imap_insecure = false, bool smtp_insecure = false) {
  return "[imap]\n"
         "url = \"" + imap_url + "\"\n"
         "username = \"u\"\n"
         "password = \"p\"\n"
         "allow_insecure = " + (imap_insecure ? "true" : "false") + "\n"
         "[smtp]\n"
         "url = \"" + smtp_url + "\"\n"
         "from = \"desk@example.test\"\n"
         "allow_insecure = " + (smtp_insecure ? "true" : "false") + "\n";
}

Config load(const std::string& imap_url, const std::string& smtp_url = "smtp://127.0.0.1:2525",
            bool imap_insecure = false, bool smtp_insecure = false) {
  return load_config_from_string(config_text(imap_url, smtp_url, imap_insecure, smtp_insecure),
                                 "/etc/casedesk/casedesk.toml");
}

std::vector<ConfigIssue> issues_of(const std::string& imap_url,
                                   const std::string& smtp_url = "smtp://127.0.0.1:2525") {
  try {
    load(imap_url, smtp_url);
  } catch (const ConfigError& e) {
    return e.issues();
  }
  ADD_FAILURE() << "no ConfigError for " << imap_url << " / " << smtp_url;
  return {};
}

TEST(Endpoint, ImapsWithPortAndMailbox) {
  const auto cfg = load("imaps://127.0.0.1:10993/INBOX");
  const auto& ep = cfg.imap.endpoint;
  EXPECT_EQ(ep.url, "imaps://127.0.0.1:10993/INBOX");
  EXPECT_EQ(ep.scheme, "imaps");
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, 10993);
  EXPECT_EQ(ep.path, "INBOX");
  EXPECT_EQ(ep.tls, TlsMode::implicit);
  EXPECT_TRUE(ep.loopback);
}

TEST(Endpoint, DefaultPorts) {
  EXPECT_EQ(load("imaps://mail.example.test").imap.endpoint.port, 993);
  EXPECT_EQ(load("imap://mail.example.test").imap.endpoint.port, 143);
  EXPECT_EQ(load("imaps://h", "smtps://mail.example.test").smtp.endpoint.port, 465);
  EXPECT_EQ(load("imaps://h", "smtp://mail.example.test").smtp.endpoint.port, 25);
  EXPECT_EQ(load("imaps://h", "smtp://mail.example.test/").smtp.endpoint.path, "");
}

TEST(Endpoint, MailboxDefaultsToInboxAndIsPercentDecoded) {
  EXPECT_EQ(load("imaps://h").imap.endpoint.path, "INBOX");
  EXPECT_EQ(load("imaps://h/").imap.endpoint.path, "INBOX");
  EXPECT_EQ(load("imaps://h/Support%20Desk/Intake").imap.endpoint.path, "Support Desk/Intake");
  EXPECT_EQ(load("imaps://h/a%3Bb").imap.endpoint.path, "a;b");
}

TEST(Endpoint, Ipv6HostInBrackets) {
  const auto cfg = load("imap://[::1]:1143/INBOX", "smtp://[2001:db8::25]:587");
  EXPECT_EQ(cfg.imap.endpoint.host, "::1");
  EXPECT_EQ(cfg.imap.endpoint.port, 1143);
  EXPECT_TRUE(cfg.imap.endpoint.loopback);
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::starttls_optional);
  EXPECT_EQ(cfg.smtp.endpoint.host, "2001:db8::25");
  EXPECT_FALSE(cfg.smtp.endpoint.loopback);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_required);
}

TEST(Endpoint, SchemeIsCaseInsensitive) {
  EXPECT_EQ(load("IMAPS://h").imap.endpoint.scheme, "imaps");
}

TEST(TlsModes, ImplicitForImapsAndSmtps) {
  const auto cfg = load("imaps://mail.example.test", "smtps://mail.example.test", true, true);
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::implicit);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::implicit);
}

TEST(TlsModes, StarttlsRequiredForRemotePlainSchemes) {
  const auto cfg = load("imap://mail.example.test", "smtp://mail.example.test");
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::starttls_required);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_required);
  EXPECT_FALSE(cfg.imap.endpoint.loopback);
}

TEST(TlsModes, StarttlsOptionalForLoopback) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "LocalHost", "[::1]"}) {
    const auto cfg = load(std::string("imap://") + host + ":1143",
                          std::string("smtp://") + host + ":2525");
    EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::starttls_optional) << host;
    EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_optional) << host;
    EXPECT_TRUE(cfg.imap.endpoint.loopback) << host;
  }
}

TEST(TlsModes, StarttlsOptionalWhenAllowInsecure) {
  const auto cfg = load("imap://mail.example.test", "smtp://mail.example.test", true, false);
  EXPECT_EQ(cfg.imap.endpoint.tls, TlsMode::starttls_optional);
  EXPECT_EQ(cfg.smtp.endpoint.tls, TlsMode::starttls_required);
  EXPECT_FALSE(cfg.imap.endpoint.loopback);

  const auto cfg2 = load("imap://mail.example.test", "smtp://mail.example.test", false, true);
  EXPECT_EQ(cfg2.imap.endpoint.tls, TlsMode::starttls_required);
  EXPECT_EQ(cfg2.smtp.endpoint.tls, TlsMode::starttls_optional);
}

TEST(Endpoint, RejectsBadImapUrlsAtTheUrlLine) {
  const std::vector<std::string> bad = {
      "http://h/INBOX",           // wrong scheme
      "smtp://h",                 // smtp scheme in [imap]
      "imaps://h/INBOX;UID=20",   // IMAP URL parameters
      "imaps://h/INBOX;UIDVALIDITY=3",
      "imaps://h/INBOX?x=1",      // query
      "imaps://h/INBOX#frag",
      "imaps://user:pw@h/INBOX",  // credentials
      "imaps://h:0",
      "imaps://h:70000",
      "imaps://h:",
      "imaps://h:99x",
      "imaps:///INBOX",           // no host
      "imaps://[::1/INBOX",
      "imaps://[not-ipv6]/INBOX",
      "imaps://h/bad%zzescape",
      "imaps://h/a%0Ab",          // decoded control character
      "imaps://ho st/INBOX",
      "127.0.0.1:993",
      "",
  };
  for (const auto& url : bad) {
    const auto issues = issues_of(url);
    ASSERT_EQ(issues.size(), 1u) << url;
    EXPECT_EQ(issues[0].line, 2) << url;
    EXPECT_EQ(issues[0].message.rfind("imap.url: ", 0), 0u) << issues[0].message;
  }
}

TEST(Endpoint, RejectsBadSmtpUrlsAtTheUrlLine) {
  for (const std::string url : {"imaps://h", "smtp://h/path", "smtp://h?x", "smtps://u@h",
                                "smtp://h:65536"}) {
    const auto issues = issues_of("imaps://h", url);
    ASSERT_EQ(issues.size(), 1u) << url;
    EXPECT_EQ(issues[0].line, 7) << url;
    EXPECT_EQ(issues[0].message.rfind("smtp.url: ", 0), 0u) << issues[0].message;
  }
}

TEST(Endpoint, WrongSchemeMessage) {
  const auto issues = issues_of("https://h");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("imaps:// or imap://"), std::string::npos)
      << issues[0].message;
}

TEST(Loopback, Hosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.255.255.254"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_TRUE(is_loopback_host("0:0:0:0:0:0:0:1"));
  EXPECT_TRUE(is_loopback_host("::ffff:127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("LOCALHOST"));

  EXPECT_FALSE(is_loopback_host(""));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.example.test"));
  EXPECT_FALSE(is_loopback_host("127.0.0"));
  EXPECT_FALSE(is_loopback_host("127.0.0.256"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1:25"));
  EXPECT_FALSE(is_loopback_host("localhost.example.test"));
  EXPECT_FALSE(is_loopback_host("evil-localhost"));
  EXPECT_FALSE(is_loopback_host("::2"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("::ffff:10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("mail.example.test"));
}

}  // namespace
}  // namespace casedesk::config
