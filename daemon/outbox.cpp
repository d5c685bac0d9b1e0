#include "daemon/outbox.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "parsers/message.hpp"

namespace casedesk::daemon {

std::int64_t retry_delay_seconds(int attempts) {
  std::int64_t delay = 60;
  for (int i = 0; i < attempts && delay < 3600; ++i) delay *= 2;
  return std::min<std::int64_t>(delay, 3600);
}

OutboxStats run_outbox_pass(SmtpClient& smtp, queue::Store& store, const templates::Renderer& renderer,
                            const OutboxOptions& options) {
  OutboxStats stats;
  auto items = store.due_outbox(options.now());
  stats.due = static_cast<int>(items.size());
  for (auto& item : items) {
    if (stats.unreachable) {
      // The server is down: leave the rest for the next pass without counting an attempt.
      ++stats.deferred;
      continue;
    }
    std::string error;
    bool permanent = false;
    try {
      if (!item.raw) {
        ComposedReply reply;
        if (item.quarantine_id) {
          // A reply about quarantined mail (too_large): composed from the header we kept.
          auto header = store.quarantined_raw(*item.quarantine_id);
          if (!header) throw std::runtime_error("quarantine record is gone");
          reply = compose_too_large(parsers::parse_message(*header), renderer, options.desk, options.max_message_size,
                                    options.now());
        } else if (item.kind == "digest") {
          reply = compose_digest(item, renderer, options.desk, options.now());
        } else {
          auto detail = store.get_case(item.case_id);
          if (!detail) throw std::runtime_error("case is gone");
          reply = item.kind == "ack" ? compose_ack(*detail, renderer, options.desk, options.now())
                                     : compose_case_reply(*detail, item, renderer, options.desk, options.now());
        }
        store.set_outbox_content(item.id, reply.message_id, reply.to_addr, reply.raw);
        item.message_id = reply.message_id;
        item.to_addr = reply.to_addr;
        item.raw = std::move(reply.raw);
      }
    } catch (const queue::StoreError&) {
      throw;
    } catch (const std::exception& e) {
      error = std::string("cannot compose: ") + e.what();
      permanent = true;
    }
    if (error.empty()) {
      SendResult r = smtp.send(options.desk.from.addr, *item.to_addr, *item.raw);
      if (r) {
        store.mark_outbox_sent(item.id, options.now(), r.message);
        ++stats.sent;
        spdlog::info("outbox: {} for case {} sent", item.kind, item.case_ref);
        continue;
      }
      error = r.message;
      permanent = r.permanent;
      stats.unreachable = stats.unreachable || r.unreachable;
    }
    if (!permanent && options.now() - item.created_at >= options.retry_for_seconds) {
      permanent = true;
      error = "gave up after retrying for " + std::to_string(options.retry_for_seconds) + " s: " + error;
    }
    std::int64_t next = options.now() + retry_delay_seconds(item.attempts);
    store.mark_outbox_attempt_failed(item.id, options.now(), error, permanent, next);
    if (permanent) {
      ++stats.failed;
      spdlog::error("outbox: {} for case {} failed permanently: {}", item.kind, item.case_ref, error);
    } else {
      ++stats.deferred;
      spdlog::warn("outbox: {} for case {} deferred (attempt {}): {}", item.kind, item.case_ref, item.attempts + 1,
                   error);
    }
  }
  return stats;
}

}  // namespace casedesk::daemon
