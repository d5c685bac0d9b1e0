#include "daemon/intake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "parsers/code_validation.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace casedesk::daemon {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// For a delivery-status report: the outbox item it reports on (one of our Message-IDs inside it)
// and a short reason from its Status / Diagnostic-Code fields. Never mail content beyond those.
std::optional<std::pair<queue::OutboxItem, std::string>> bounced_reply(const queue::IncomingMail& mail,
                                                                      const queue::Store& store,
                                                                      const std::string& own_domain) {
  const auto& m = mail.message;
  if (!m.automated) return std::nullopt;
  const std::string& raw = mail.raw;
  const std::string suffix = "@" + own_domain + ">";
  for (std::size_t end = raw.find(suffix); end != std::string::npos; end = raw.find(suffix, end + 1)) {
    const std::size_t start = raw.rfind('<', end);
    if (start == std::string::npos || end - start > 200) continue;
    const std::string id = raw.substr(start, end + suffix.size() - start);
    if (id.find_first_of(" \t\r\n") != std::string::npos) continue;
    auto item = store.outbox_by_message_id(id);
    if (!item) continue;
    std::string reason = "delivery-status report";
    for (const char* field : {"\nStatus:", "\nDiagnostic-Code:"}) {
      auto pos = raw.find(field);
      if (pos == std::string::npos) continue;
      auto eol = raw.find('\n', pos + 1);
      std::string value = raw.substr(pos + 1, (eol == std::string::npos ? raw.size() : eol) - pos - 1);
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      reason += "; " + value.substr(0, 200);
    }
    return std::make_pair(std::move(*item), reason);
  }
  return std::nullopt;
}

}  // namespace

queue::IncomingMail prepare_incoming(std::string raw, std::optional<queue::MailSource> source,
                                     const IntakeOptions& options) {
  queue::IncomingMail mail;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  if (options.code_sets) mail.code_notes = parsers::validate_codes(mail.codes, options.code_sets);
  mail.raw = std::move(raw);
  mail.source = std::move(source);
  mail.suppress_ack_reason = ack_suppression_reason(mail.message, options.own_addresses);
  return mail;
}

std::optional<std::string> ack_suppression_reason(const parsers::Message& m,
                                                  const std::vector<std::string>& own_addresses) {
  // RFC 3834 and the de-facto headers of autoresponders, list servers and Exchange.
  if (m.automated) return "automated mail: " + m.automated_reason.value_or("auto-generated");
  if (m.auto_submitted && lower(*m.auto_submitted) != "no") return "Auto-Submitted: " + *m.auto_submitted;
  if (m.precedence) {
    std::string p = lower(*m.precedence);
    if (p == "bulk" || p == "list" || p == "junk" || p == "auto_reply") return "Precedence: " + p;
  }
  for (const auto& [name, value] : m.headers) {
    const std::string n = lower(name);
    if (n == "x-auto-response-suppress") {
      const std::string v = lower(value);
      if (v.find("all") != std::string::npos || v.find("autoreply") != std::string::npos ||
          v.find("oof") != std::string::npos)
        return "X-Auto-Response-Suppress: " + value;
    }
    if (n == "x-autoreply" || n == "x-autorespond") return name + " present";
    if (n == "list-id") return "List-Id present (mailing list)";
  }
  std::string to = m.reply_to ? m.reply_to->addr : m.from_addr.value_or("");
  if (to.empty()) return "no sender address";
  std::string from = lower(m.from_addr.value_or(""));
  std::string local = from.substr(0, from.find('@'));
  if (local == "mailer-daemon" || local == "postmaster") return "sender is " + local;
  for (std::string_view noreply : {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply"}) {
    if (local == noreply || local.rfind(std::string(noreply) + "-", 0) == 0 ||
        local.rfind(std::string(noreply) + "+", 0) == 0)
      return "sender is a no-reply address";
  }
  for (const auto& own : own_addresses) {
    if (lower(own) == from || lower(own) == lower(to)) return "mail from our own address";
  }
  return std::nullopt;
}

IntakeStats run_intake_pass(ImapClient& imap, queue::Store& store, const IntakeOptions& options) {
  IntakeStats stats;
  const auto status = imap.status();
  imap.ensure_folder(options.processed_folder);
  imap.ensure_folder(options.failed_folder);
  const auto listing = imap.list_messages(status.uidnext);
  stats.seen = static_cast<int>(listing.size());
  spdlog::debug("intake: mailbox has {} message(s), uidvalidity {}", listing.size(), status.uidvalidity);

  for (const auto& info : listing) {
    const std::int64_t uid = info.uid;
    const queue::MailSource source{imap.mailbox(), status.uidvalidity, uid};
    std::string folder;
    if (auto rec = store.uid_record(source)) {
      // Committed earlier but not moved (crash or failed MOVE): finish the move only.
      if (rec->moved) continue;
      folder = rec->outcome == "case" ? options.processed_folder : options.failed_folder;
    } else if (info.size >= 0 && static_cast<std::uint64_t>(info.size) > options.max_message_size) {
      // Too large to parse: keep the header (who sent it), move the mail to the failed folder.
      std::string header;
      try {
        header = imap.fetch_header(uid);
      } catch (const MailError& e) {
        if (e.kind() != MailError::Kind::command) throw;
      }
      const std::string reason = "too_large: " + std::to_string(info.size) + " bytes > limit " +
                                 std::to_string(options.max_message_size);
      // The sender hears why (a too_large reply), under the same loop protection as acks.
      std::optional<queue::Store::QuarantineReply> reply;
      const parsers::Message head = parsers::parse_message(header);
      auto no_reply = ack_suppression_reason(head, options.own_addresses);
      const std::string to = head.reply_to ? head.reply_to->addr : head.from_addr.value_or("");
      if (!no_reply && options.auto_replies_per_sender > 0 &&
          store.count_auto_replies_since(to, options.now() - options.auto_reply_window_seconds) >=
              options.auto_replies_per_sender)
        no_reply = "auto-reply cap reached";
      if (!no_reply) reply = queue::Store::QuarantineReply{"too_large", to};
      auto id = store.quarantine(source, header, reason, options.now(), reply);
      ++stats.quarantined;
      ++stats.too_large;
      spdlog::warn("intake: uid {} quarantined as #{}: {}", uid, id, reason);
      folder = options.failed_folder;
    } else {
      std::string raw;
      try {
        raw = imap.fetch(uid);
      } catch (const MailError& e) {
        if (e.kind() != MailError::Kind::command) throw;
        ++stats.fetch_failures;
        spdlog::warn("intake: uid {} could not be fetched, will retry: {}", uid, e.what());
        continue;
      }
      std::optional<queue::IncomingMail> mail;
      std::string failure;
      try {
        mail = prepare_incoming(raw, source, options);
      } catch (const std::exception& e) {
        failure = std::string("parse failed: ") + e.what();
      }
      if (mail && !options.own_domain.empty()) {
        if (auto bounce = bounced_reply(*mail, store, options.own_domain)) {
          // A bounce for one of our replies: mark that reply failed on its case; no new case.
          store.mark_outbox_bounced(bounce->first.id, options.now(), bounce->second, source);
          ++stats.bounces;
          spdlog::warn("intake: uid {} is a bounce for the {} of case {}", uid, bounce->first.kind,
                       bounce->first.case_ref);
          mail.reset();
          folder = options.processed_folder;
        }
      }
      if (mail && options.ack_cutoff > 0 && info.internal_date >= 0 && info.internal_date < options.ack_cutoff) {
        // First start on an old mailbox: a case, but no ack for mail that waited there long before us.
        mail->suppress_ack_reason = "imported: the mail reached the server before the first start's ack window";
        ++stats.imported;
      }
      if (mail && !mail->suppress_ack_reason && options.auto_replies_per_sender > 0) {
        // A cap on automatic replies to one address: a busy submitter stays under it, a mail
        // loop with a responder that sends none of the headers above hits it within minutes.
        const auto& m = mail->message;
        const std::string to = m.reply_to ? m.reply_to->addr : m.from_addr.value_or("");
        const int recent = store.count_auto_replies_since(to, options.now() - options.auto_reply_window_seconds);
        if (recent >= options.auto_replies_per_sender)
          mail->suppress_ack_reason = "auto-reply cap reached (" + std::to_string(recent) + " to this address within " +
                                      std::to_string(options.auto_reply_window_seconds) + " s)";
      }
      if (mail) {
        auto result = store.enqueue(*mail, options.now());
        if (result.outcome == queue::EnqueueResult::Outcome::created) {
          ++stats.created;
          if (mail->suppress_ack_reason) ++stats.suppressed;
          spdlog::info("intake: uid {} -> case {} ({} code(s), ack {})", uid, result.case_ref, mail->codes.size(),
                       mail->suppress_ack_reason ? "suppressed" : "queued");
        } else {
          ++stats.duplicates;
          spdlog::info("intake: uid {} is a duplicate of case {}", uid, result.case_ref);
        }
        for (const auto& w : result.warnings) spdlog::warn("intake: uid {} case {}: {}", uid, result.case_ref, w);
        folder = options.processed_folder;
      } else if (folder.empty()) {
        auto id = store.quarantine(source, raw, failure, options.now());
        ++stats.quarantined;
        spdlog::warn("intake: uid {} quarantined as #{}: {}", uid, id, failure);
        folder = options.failed_folder;
      }
    }
    try {
      imap.move(uid, folder);
      store.mark_moved(source, options.now());
      ++stats.moved;
    } catch (const MailError& e) {
      if (e.kind() != MailError::Kind::command) throw;
      ++stats.move_failures;
      spdlog::warn("intake: uid {} stays in {} (move to {} failed, retried next pass): {}", uid, imap.mailbox(),
                   folder, e.what());
    }
  }
  return stats;
}

}  // namespace casedesk::daemon
