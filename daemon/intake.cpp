#include "daemon/intake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <chrono>

#include "parsers/address.hpp"
#include "parsers/code_validation.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "parsers/phi.hpp"

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
  // Only a delivery report is a bounce: a multipart/report delivery-status, or mail from the
  // mailer daemon (plain-text bounces). An out-of-office reply also names our Message-ID (in
  // In-Reply-To) but says nothing about delivery.
  const std::string from = lower(m.from_addr.value_or(""));
  const std::string local = from.substr(0, from.rfind('@'));
  bool report = local == "mailer-daemon" || local == "postmaster";
  for (const auto& [name, value] : m.headers) {
    if (lower(name) != "content-type") continue;
    const std::string v = lower(value);
    if (v.find("multipart/report") != std::string::npos && v.find("disposition-notification") == std::string::npos)
      report = true;
  }
  if (!report) return std::nullopt;
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

namespace {

// A From or Reply-To whose address is not a mailbox we could send to (RFC 5321) names no address:
// the case keeps the display name, its submitter address is null, and no reply is addressed by it.
void drop_invalid_senders(parsers::Message& m) {
  if (m.from_addr && !parsers::is_valid_mailbox(*m.from_addr)) m.from_addr.reset();
  if (m.reply_to && !parsers::is_valid_mailbox(m.reply_to->addr)) m.reply_to.reset();
}

// prepare_incoming on mail.raw, which holds the only copy of the bytes.
void fill_incoming(queue::IncomingMail& mail, std::optional<queue::MailSource> source, const IntakeOptions& options) {
  const std::string& raw = mail.raw;
  mail.message = parsers::parse_message(raw);
  drop_invalid_senders(mail.message);
  mail.codes = parsers::extract_codes(mail.message);
  // Kinds only: the matched text never leaves detect_phi, and the kinds are not logged here.
  mail.phi = parsers::detect_phi(parsers::code_sources(mail.message));
  if (options.code_sets) {
    parsers::add_pcs_by_table(mail.codes, parsers::code_sources(mail.message), options.code_sets);
    mail.code_notes = parsers::validate_codes(mail.codes, options.code_sets);
    for (auto& s : parsers::suggest_codes(options.code_sets, mail.message, mail.codes))
      mail.suggestions.push_back(
          queue::Suggestion{std::move(s.code), std::string(parsers::to_string(s.system)), std::move(s.description), s.score});
  }
  mail.source = std::move(source);
  mail.suppress_ack_reason = ack_suppression_reason(mail.message, options.own_addresses);
  // Automated mail (auto-reply, list, report, our own): a follow-up of it only becomes a note.
  mail.automated = mail.suppress_ack_reason.has_value();
}

}  // namespace

queue::IncomingMail prepare_incoming(std::string raw, std::optional<queue::MailSource> source,
                                     const IntakeOptions& options) {
  queue::IncomingMail mail;
  mail.raw = std::move(raw);
  fill_incoming(mail, std::move(source), options);
  return mail;
}

queue::IncomingMail take_incoming(std::string& raw, std::optional<queue::MailSource> source,
                                  const IntakeOptions& options) {
  queue::IncomingMail mail;
  mail.raw = std::move(raw);
  try {
    fill_incoming(mail, std::move(source), options);
  } catch (...) {
    raw = std::move(mail.raw);
    throw;
  }
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
  std::string to;
  if (m.reply_to && parsers::is_valid_mailbox(m.reply_to->addr))
    to = m.reply_to->addr;
  else if (m.from_addr && parsers::is_valid_mailbox(*m.from_addr))
    to = *m.from_addr;
  if (to.empty()) return std::string(queue::kNoValidSender);
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
  if (const auto last = store.last_uidvalidity(imap.mailbox()); last && *last != status.uidvalidity) {
    // The server renumbered the mailbox: old UID records no longer apply. Mail seen before is
    // recognised by Message-ID, sender and Date (or its bytes) and recorded as a duplicate.
    stats.uidvalidity_changed = true;
    spdlog::warn("intake: UIDVALIDITY of {} changed from {} to {}; UIDs are matched afresh, mail seen before "
                 "is recognised as a duplicate",
                 imap.mailbox(), *last, status.uidvalidity);
  }

  // Group commit for the pass (see flush_moves), back to a sync per commit when it ends.
  struct GroupCommit {
    queue::Store& store;
    explicit GroupCommit(queue::Store& s) : store(s) { store.set_group_commit(true); }
    ~GroupCommit() {
      try {
        store.set_group_commit(false);
      } catch (const std::exception& e) {
        spdlog::error("intake: store stays in group-commit mode: {}", e.what());
      }
    }
  } group_commit(store);

  // Moves to one folder go out in batches: one UID MOVE per kMoveBatch mails instead of one each
  // (fewer round trips, and one expunge for the batch).
  constexpr std::size_t kMoveBatch = 50;
  std::map<std::string, std::vector<queue::MailSource>> pending_moves;
  auto flush_moves = [&](const std::string& folder) {
    auto& batch = pending_moves[folder];
    if (batch.empty()) return;
    auto moved = [&](const queue::MailSource& s) {
      store.mark_moved(s, options.now());
      ++stats.moved;
    };
    std::vector<std::int64_t> uids;
    for (const auto& s : batch) uids.push_back(s.uid);
    // The batch's cases were committed without waiting for the disk: one sync for all of them
    // before their mail leaves the mailbox.
    store.make_durable(options.now());
    try {
      imap.move_many(uids, folder);
      store.mark_moved(batch, options.now());
      stats.moved += static_cast<int>(batch.size());
    } catch (const MailError& e) {
      if (e.kind() != MailError::Kind::command) throw;
      // One by one, so a single bad UID does not hold the others back.
      for (const auto& s : batch) {
        try {
          imap.move(s.uid, folder);
          moved(s);
        } catch (const MailError& e1) {
          if (e1.kind() != MailError::Kind::command) throw;
          ++stats.move_failures;
          spdlog::warn("intake: uid {} stays in {} (move to {} failed, retried next pass): {}", s.uid,
                       imap.mailbox(), folder, e1.what());
        }
      }
    }
    batch.clear();
    if (options.on_committed) options.on_committed();
  };

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
      parsers::Message head = parsers::parse_message(header);
      drop_invalid_senders(head);
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
        mail = take_incoming(raw, source, options);  // no copy of the bytes; `raw` is empty now
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
          if (info.internal_date >= 0 && !(options.ack_cutoff > 0 && info.internal_date < options.ack_cutoff)) {
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch());
            stats.latencies.push_back(std::max(0.0, static_cast<double>(now_ms.count()) / 1000.0 -
                                                        static_cast<double>(info.internal_date)));
          }
          spdlog::info("intake: uid {} -> case {} ({} code(s), ack {})", uid, result.case_ref, mail->codes.size(),
                       mail->suppress_ack_reason ? "suppressed" : "queued");
        } else if (result.outcome == queue::EnqueueResult::Outcome::followup) {
          ++stats.followups;
          spdlog::info("intake: uid {} is a follow-up on case {} ({} -> {})", uid, result.case_ref,
                       result.from_status.value_or("?"), result.to_status.value_or("?"));
        } else if (result.outcome == queue::EnqueueResult::Outcome::note) {
          ++stats.followups;
          spdlog::info("intake: uid {} is automated mail on case {}, kept as a note", uid, result.case_ref);
        } else {
          ++stats.duplicates;
          spdlog::info("intake: uid {} is a duplicate of case {}", uid, result.case_ref);
        }
        if (result.rejected) {
          ++stats.rejected;
          spdlog::info("intake: case {} stored as rejected: {}", result.case_ref, *result.rejected);
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
    // Committed: the move may wait for a batch (a crash now leaves a UID record, and the next
    // pass finishes the move).
    auto& batch = pending_moves[folder];
    batch.push_back(source);
    if (batch.size() >= kMoveBatch) flush_moves(folder);
  }
  for (auto& [folder, batch] : pending_moves) flush_moves(folder);
  return stats;
}

}  // namespace casedesk::daemon
