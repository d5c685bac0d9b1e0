#pragma once
// One outbox pass: every due reply is composed once (fixing its Message-ID), sent, and marked sent
// only after the server's 250. Permanent failures (5xx) stop; temporary ones back off.

#include <cstdint>
#include <functional>

#include "daemon/replies.hpp"
#include "daemon/smtp_client.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {

struct OutboxOptions {
  DeskIdentity desk;
  std::function<std::int64_t()> now;
  std::int64_t retry_for_seconds = 2 * 24 * 3600;  // temporary failures give up after this long
  std::uint64_t max_message_size = 25ull * 1024 * 1024;  // quoted in too_large replies
};

struct OutboxStats {
  int due = 0;
  int sent = 0;
  int deferred = 0;      // temporary failure, retried later
  int failed = 0;        // permanent failure
  bool unreachable = false;  // the SMTP server could not be reached or logged into
};

// Seconds to wait before attempt number `attempts + 1` (1 min doubling, capped at 1 h).
std::int64_t retry_delay_seconds(int attempts);

// @throw queue::StoreError if the store fails.
OutboxStats run_outbox_pass(SmtpClient& smtp, queue::Store& store, const templates::Renderer& renderer,
                            const OutboxOptions& options);

}  // namespace casedesk::daemon
