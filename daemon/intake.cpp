#include "daemon/intake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "parsers/codes.hpp"
#include "parsers/message.hpp"

namespace casedesk::daemon {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Turns one fetched mail into an IncomingMail. Throws only on failures we cannot turn into a
// case (the caller quarantines the mail then).
queue::IncomingMail prepare(std::string raw, const queue::MailSource& source, const IntakeOptions& options) {
  queue::IncomingMail mail;
  mail.message = parsers::parse_message(raw);
  mail.codes = parsers::extract_codes(mail.message);
  mail.raw = std::move(raw);
  mail.source = source;
  mail.suppress_ack_reason = ack_suppression_reason(mail.message, options.own_addresses);
  return mail;
}

}  // namespace

std::optional<std::string> ack_suppression_reason(const parsers::Message& m,
                                                  const std::vector<std::string>& own_addresses) {
  if (m.automated) return "automated mail: " + m.automated_reason.value_or("auto-generated");
  if (m.auto_submitted && lower(*m.auto_submitted) != "no") return "Auto-Submitted: " + *m.auto_submitted;
  if (m.precedence) {
    std::string p = lower(*m.precedence);
    if (p == "bulk" || p == "list" || p == "junk") return "Precedence: " + p;
  }
  std::string to = m.reply_to ? m.reply_to->addr : m.from_addr.value_or("");
  if (to.empty()) return "no sender address";
  std::string from = lower(m.from_addr.value_or(""));
  std::string local = from.substr(0, from.find('@'));
  if (local == "mailer-daemon" || local == "postmaster") return "sender is " + local;
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
  const auto uids = imap.search_all();
  stats.seen = static_cast<int>(uids.size());
  spdlog::debug("intake: mailbox has {} message(s), uidvalidity {}", uids.size(), status.uidvalidity);

  for (std::int64_t uid : uids) {
    const queue::MailSource source{imap.mailbox(), status.uidvalidity, uid};
    std::string folder;
    if (auto rec = store.uid_record(source)) {
      // Committed earlier but not moved (crash or failed MOVE): finish the move only.
      if (rec->moved) continue;
      folder = rec->outcome == "case" ? options.processed_folder : options.failed_folder;
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
        mail = prepare(raw, source, options);
      } catch (const std::exception& e) {
        failure = std::string("parse failed: ") + e.what();
      }
      if (mail) {
        auto result = store.enqueue(*mail, options.now());
        if (result.outcome == queue::EnqueueResult::Outcome::created) {
          ++stats.created;
          spdlog::info("intake: uid {} -> case {} ({} code(s), ack {})", uid, result.case_ref, mail->codes.size(),
                       mail->suppress_ack_reason ? "suppressed" : "queued");
        } else {
          ++stats.duplicates;
          spdlog::info("intake: uid {} is a duplicate of case {}", uid, result.case_ref);
        }
        for (const auto& w : result.warnings) spdlog::warn("intake: uid {} case {}: {}", uid, result.case_ref, w);
        folder = options.processed_folder;
      } else {
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
