#include "daemon/service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cmath>
#include <random>
#include <unistd.h>

#include "daemon/idle_watcher.hpp"
#include "daemon/imap_client.hpp"
#include "daemon/intake.hpp"
#include "parsers/compose.hpp"
#include "daemon/outbox.hpp"
#include "daemon/smtp_client.hpp"
#include "queue/code_set_store.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {
namespace asio = boost::asio;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

ImapOptions imap_options(const config::Config& cfg, const std::atomic<bool>* stop, std::shared_ptr<TokenSource> oauth2) {
  return ImapOptions{cfg.imap.endpoint, cfg.imap.username, cfg.imap.password, cfg.imap.ca_file, cfg.imap.timeout, stop,
                     std::move(oauth2)};
}

}  // namespace

// Everything one pass needs. Lives on (and is used by) one thread at a time.
struct Service::Worker {
  const config::Config& config;
  queue::Store store;
  templates::Renderer renderer;
  // OAuth2 token sources (null with a password); the IMAP one is shared with the IDLE connection.
  std::shared_ptr<TokenSource> imap_tokens;
  std::shared_ptr<TokenSource> smtp_tokens;
  ImapClient imap;
  SmtpClient smtp;
  IntakeOptions intake_options;
  OutboxOptions outbox_options;

  Worker(const config::Config& cfg, const std::atomic<bool>& stop)
      : config(cfg),
        store(queue::StoreOptions{cfg.store.path, cfg.desk.case_prefix}),
        renderer(cfg.templates.dir),
        imap_tokens(TokenSource::make("IMAP", cfg.imap.oauth2_token_file, cfg.imap.oauth2_token_command,
                                      cfg.imap.timeout)),
        smtp_tokens(TokenSource::make("SMTP", cfg.smtp.oauth2_token_file, cfg.smtp.oauth2_token_command,
                                      cfg.smtp.timeout)),
        imap(imap_options(cfg, &stop, imap_tokens)),
        smtp(SmtpOptions{cfg.smtp.endpoint, cfg.smtp.username, cfg.smtp.password, cfg.smtp.ca_file, cfg.smtp.timeout,
                         &stop, smtp_tokens}) {
    intake_options.processed_folder = cfg.imap.processed_folder;
    intake_options.failed_folder = cfg.imap.failed_folder;
    intake_options.own_addresses = {cfg.smtp.from_addr, cfg.imap.username};
    intake_options.now = unix_now;
    intake_options.auto_replies_per_sender = cfg.limits.auto_replies_per_sender;
    intake_options.auto_reply_window_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(cfg.limits.auto_reply_window).count();
    intake_options.max_message_size = cfg.limits.max_message_size;
    outbox_options.max_message_size = cfg.limits.max_message_size;
    intake_options.own_domain = parsers::domain_of(cfg.smtp.from_addr);
    intake_options.ack_cutoff =
        store.first_start_at(unix_now()) - std::chrono::duration_cast<std::chrono::seconds>(cfg.intake.ack_window).count();
    outbox_options.retry_for_seconds = std::chrono::duration_cast<std::chrono::seconds>(cfg.outbox.retry_for).count();
    outbox_options.desk = DeskIdentity{cfg.desk.name, parsers::Address{cfg.smtp.from_addr, cfg.smtp.from_name}};
    outbox_options.now = unix_now;
    lock_key = cfg.imap.username + "@" + cfg.imap.endpoint.host + ":" + std::to_string(cfg.imap.endpoint.port) + "/" +
               cfg.imap.endpoint.path;
    // A holder that has not beaten its heart for this long is gone (crashed on another host).
    lock_stale_after = std::max<std::int64_t>(
        600, 3 * std::chrono::duration_cast<std::chrono::seconds>(cfg.imap.poll_interval).count());
    if (auto holder = store.acquire_lock(lock_key, ::getpid(), host_name(), unix_now(), lock_stale_after))
      throw LockRefused("another casedesk (pid " + std::to_string(holder->pid) + " on " + holder->host +
                        ") is serving this mailbox; its last heartbeat was " +
                        std::to_string(unix_now() - holder->heartbeat_at) + " s ago");
  }

  ~Worker() {
    try {
      store.release_lock(lock_key, ::getpid());
    } catch (const std::exception&) {
      // The lock goes stale by itself; nothing else to do in a destructor.
    }
  }

  std::string lock_key;
  std::int64_t lock_stale_after = 600;

  void count(const IntakeStats& s) {
    const std::int64_t now = unix_now();
    for (const auto& [name, value] : {std::pair<const char*, int>{"mails_seen", s.seen},
                                      {"cases_created", s.created},
                                      {"duplicates_skipped", s.duplicates},
                                      {"quarantined", s.quarantined},
                                      {"acks_suppressed", s.suppressed},
                                      {"move_failures", s.move_failures},
                                      {"imported", s.imported},
                                      {"too_large", s.too_large},
                                      {"bounces", s.bounces}})
      if (value) store.add_counter(name, value, now);
    store.add_counter("intake_passes_ok", 1, now);
  }
  void count(const OutboxStats& o) {
    const std::int64_t now = unix_now();
    if (o.sent) store.add_counter("replies_sent", o.sent, now);
    if (o.failed) store.add_counter("send_failures_permanent", o.failed, now);
    if (o.deferred) store.add_counter("send_failures_temporary", o.deferred, now);
  }

  // Failed OAuth2 logins (also the IDLE connection's) -> the oauth2_failures counter.
  void count_oauth2_failures() {
    std::int64_t n = 0;
    for (const auto& tokens : {imap_tokens, smtp_tokens})
      if (tokens) n += tokens->take_failures();
    if (n) store.add_counter("oauth2_failures", n, unix_now());
  }

  // An outage is logged once when it starts (error) and once when it ends (info), and counted;
  // the failed passes in between log at debug level only.
  void note_availability(const char* what, bool& down, bool unusable, const std::string& detail) {
    const auto& ep = std::string(what) == "IMAP" ? config.imap.endpoint : config.smtp.endpoint;
    if (unusable && !down) {
      spdlog::error("{} server {}:{} unusable: {}", what, ep.host, ep.port, detail);
      store.add_counter(std::string(what) == "IMAP" ? "imap_outages" : "smtp_outages", 1, unix_now());
    } else if (unusable) {
      spdlog::debug("{} server {}:{} still unusable: {}", what, ep.host, ep.port, detail);
    } else if (down) {
      spdlog::info("{} server {}:{} is back", what, ep.host, ep.port);
    }
    down = unusable;
  }
  bool imap_down = false;
  bool smtp_down = false;
  std::string last_imap_error;

  // One unit of work: a full pass. The only catch point for mail-server failures of a pass.
  PassOutcome pass() {
    PassOutcome outcome;
    const std::int64_t now = unix_now();
    store.heartbeat_lock(lock_key, ::getpid(), now);
    // Reopened each pass so code sets imported while the daemon runs are used at once.
    std::unique_ptr<parsers::CodeSetLookup> code_sets;
    try {
      code_sets = queue::open_code_sets(config.store.path);
    } catch (const queue::StoreError& e) {
      spdlog::warn("code sets unavailable, codes are not validated: {}", e.what());
    }
    IntakeOptions pass_options = intake_options;
    pass_options.code_sets = code_sets.get();
    try {
      IntakeStats s = run_intake_pass(imap, store, pass_options);
      count(s);
      if (s.seen > 0)
        spdlog::info("intake pass: {} in mailbox, {} new case(s), {} duplicate(s), {} quarantined, {} moved",
                     s.seen, s.created, s.duplicates, s.quarantined, s.moved);
    } catch (const MailError& e) {
      if (e.kind() == MailError::Kind::cancelled) {
        outcome.cancelled = true;
        return outcome;
      }
      outcome.imap_unreachable = true;
      last_imap_error = e.what();
    }
    note_availability("IMAP", imap_down, outcome.imap_unreachable, last_imap_error);
    OutboxStats o = run_outbox_pass(smtp, store, renderer, outbox_options);
    count(o);
    if (o.due > 0)
      spdlog::info("outbox pass: {} due, {} sent, {} deferred, {} failed", o.due, o.sent, o.deferred, o.failed);
    outcome.smtp_unreachable = o.unreachable;
    outcome.next_outbox_attempt = store.next_outbox_attempt_at();
    note_availability("SMTP", smtp_down, o.unreachable, "replies stay queued and are retried");
    count_oauth2_failures();
    return outcome;
  }
};

Service::Service(config::Config config) : config_(std::move(config)) {
  worker_ = std::make_unique<Worker>(config_, stop_);
}

Service::~Service() = default;

int Service::run_once() {
  PassOutcome o = worker_->pass();
  return (o.imap_unreachable || o.smtp_unreachable) ? kExitTempFail : kExitOk;
}

int Service::run() {
  asio::io_context io;
  asio::thread_pool pool(1);
  asio::steady_timer poll_timer(io);
  asio::steady_timer idle_retry_timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool pass_running = false;
  bool pass_pending = false;
  std::optional<std::int64_t> next_outbox_attempt;  // from the last pass  // a change arrived while a pass ran: run another right after
  bool stopping = false;
  std::unique_ptr<IdleWatcher> idle;
  int idle_failures = 0;
  std::mt19937 rng{std::random_device{}()};

  const auto poll_interval = config_.imap.poll_interval;
  // With IDLE pushing changes, polling is only a safety net.
  auto poll_every = [&]() -> std::chrono::milliseconds {
    if (idle && idle->active()) return std::max<std::chrono::milliseconds>(poll_interval, std::chrono::minutes(5));
    return poll_interval;
  };

  std::function<void()> start_pass;
  std::function<void()> start_idle;
  auto schedule_poll = [&] {
    if (stopping) return;
    auto delay = poll_every();
    if (next_outbox_attempt) {
      // A deferred reply is due before the next poll: wake up for it (IDLE polls only every 5 min).
      const auto until_due = std::chrono::seconds(std::max<std::int64_t>(0, *next_outbox_attempt - unix_now()));
      delay = std::min<std::chrono::milliseconds>(delay, until_due + std::chrono::milliseconds(100));
    }
    poll_timer.expires_after(delay);
    poll_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) start_pass();  // operation_aborted: rescheduled or stopping, not an error
    });
  };
  auto request_pass = [&] {
    if (stopping) return;
    if (pass_running) {
      pass_pending = true;
      return;
    }
    start_pass();
  };
  start_pass = [&] {
    pass_running = true;
    pass_pending = false;
    poll_timer.cancel();
    asio::post(pool, [&] {
      PassOutcome outcome;
      try {
        outcome = worker_->pass();
      } catch (const std::exception& e) {
        spdlog::critical("pass failed: {}", e.what());
      }
      asio::post(io, [&, outcome] {
        pass_running = false;
        next_outbox_attempt = outcome.next_outbox_attempt;
        if (stopping) {
          io.stop();
        } else if (pass_pending) {
          start_pass();
        } else {
          schedule_poll();
        }
      });
    });
  };
  auto retry_idle_later = [&](const std::string& reason) {
    ++idle_failures;
    // Exponential backoff with jitter (1 s doubling to 5 min, x0.5..1.5); one log line per outage.
    const double base = std::min(300.0, std::pow(2.0, std::min(idle_failures - 1, 9)));
    const double delay = base * std::uniform_real_distribution<double>(0.5, 1.5)(rng);
    if (idle_failures == 1)
      spdlog::warn("IDLE unavailable ({}); polling every {} ms and reconnecting with backoff", reason,
                   poll_every().count());
    else
      spdlog::debug("IDLE reconnect {} failed: {}", idle_failures, reason);
    idle_retry_timer.expires_after(std::chrono::milliseconds(static_cast<long>(delay * 1000)));
    idle_retry_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) start_idle();
    });
    schedule_poll();  // back to the full poll rate
  };
  start_idle = [&] {
    if (stopping) return;
    if (!idle) {
      idle = std::make_unique<IdleWatcher>(
          io, imap_options(config_, &stop_, worker_->imap_tokens),
          [&] {
            spdlog::debug("IDLE: mailbox changed");
            request_pass();
          },
          [&](const std::string& reason) { asio::post(io, [&, reason] { retry_idle_later(reason); }); });
    }
    if (auto why = idle->start()) {
      if (why->find("does not offer IDLE") != std::string::npos) {
        spdlog::info("the IMAP server does not offer IDLE; polling every {} ms", poll_interval.count());
        return;
      }
      retry_idle_later(*why);
      return;
    }
    if (idle_failures > 0) spdlog::info("IDLE restored after {} failed attempt(s)", idle_failures);
    else spdlog::info("IDLE active on {}", config_.imap.endpoint.path);
    idle_failures = 0;
    request_pass();  // anything that arrived while IDLE was down
  };

  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {} received, stopping", signo);
    stopping = true;
    stop_ = true;  // aborts a transfer in progress through curl's progress callback
    poll_timer.cancel();
    idle_retry_timer.cancel();
    if (idle) idle->stop();
    if (!pass_running) io.stop();
  });

  spdlog::info("casedesk serving {}:{}/{}, polling every {} ms{}", config_.imap.endpoint.host,
               config_.imap.endpoint.port, config_.imap.endpoint.path, poll_interval.count(),
               config_.imap.idle ? " (IDLE when offered)" : "");
  if (config_.imap.idle) start_idle();
  request_pass();
  io.run();
  pool.join();
  idle.reset();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace casedesk::daemon
