#include "daemon/service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <ctime>
#include <random>
#include <unistd.h>

#include "daemon/http_server.hpp"
#include "daemon/idle_watcher.hpp"
#include "daemon/imap_client.hpp"
#include "daemon/intake.hpp"
#include "daemon/maintenance_commands.hpp"
#include "daemon/metrics.hpp"
#include "daemon/outbox.hpp"
#include "daemon/smtp_client.hpp"
#include "daemon/store_options.hpp"
#include "daemon/systemd_notify.hpp"
#include "daemon/web_ui.hpp"
#include "parsers/compose.hpp"
#include "queue/code_set_store.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

#ifndef CASEDESK_VERSION
#define CASEDESK_VERSION "0.0.0"
#endif

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
std::string utc_time(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%SZ", &tm);
  return buf;
}

ImapOptions imap_options(const config::Config& cfg, const std::atomic<bool>* stop, std::shared_ptr<TokenSource> oauth2) {
  return ImapOptions{cfg.imap.endpoint, cfg.imap.username, cfg.imap.password, cfg.imap.ca_file, cfg.imap.timeout, stop,
                     std::move(oauth2)};
}

// The daemon lock's name: one daemon per mailbox of one account.
std::string lock_key_of(const config::Config& cfg) {
  return cfg.imap.username + "@" + cfg.imap.endpoint.host + ":" + std::to_string(cfg.imap.endpoint.port) + "/" +
         cfg.imap.endpoint.path;
}

std::string endpoint_text(const config::Endpoint& ep) {
  return ep.host + ":" + std::to_string(ep.port) + (ep.path.empty() ? "" : "/" + ep.path);
}

}  // namespace

// Everything one pass needs. Lives on (and is used by) one thread at a time: the worker thread
// under run(), the caller under run_once().
struct Service::Worker {
  config::Config config;  // the configuration the worker runs with
  const std::atomic<bool>& stop;
  std::shared_ptr<LiveState> live;
  std::unique_ptr<queue::Store> store;
  // The outbox's own connection: replies are sent on a second thread while intake runs.
  std::unique_ptr<queue::Store> outbox_store;
  // Rebuilt from the config by wire() (at start and on reload).
  std::unique_ptr<templates::Renderer> renderer;
  // OAuth2 token sources (null with a password); the IMAP one is shared with the IDLE connection.
  std::shared_ptr<TokenSource> imap_tokens;
  std::shared_ptr<TokenSource> smtp_tokens;
  std::unique_ptr<ImapClient> imap;
  std::unique_ptr<SmtpClient> smtp;
  IntakeOptions intake_options;
  OutboxOptions outbox_options;
  std::string lock_key;
  std::int64_t lock_stale_after = 600;

  Worker(config::Config cfg, const std::atomic<bool>& stop_flag, std::shared_ptr<LiveState> live_state)
      : config(std::move(cfg)),
        stop(stop_flag),
        live(std::move(live_state)),
        store(std::make_unique<queue::Store>(store_options(config))),
        outbox_store(std::make_unique<queue::Store>(store_options(config))) {
    wire(templates::Renderer(config.templates.dir));
    lock_key = lock_key_of(config);
    if (auto holder = store->acquire_lock(lock_key, ::getpid(), host_name(), unix_now(), lock_stale_after))
      throw refused(*holder);
  }

  ~Worker() {
    try {
      store->release_lock(lock_key, ::getpid());
    } catch (const std::exception&) {
      // The lock goes stale by itself; nothing else to do in a destructor.
    }
  }

  static LockRefused refused(const queue::LockHolder& holder) {
    return LockRefused("another casedesk (pid " + std::to_string(holder.pid) + " on " + holder.host +
                       ") is serving this mailbox; its last heartbeat was " +
                       std::to_string(unix_now() - holder.heartbeat_at) + " s ago");
  }

  // Mail clients, templates and pass options from `config`.
  void wire(templates::Renderer fresh_renderer) {
    const auto& cfg = config;
    renderer = std::make_unique<templates::Renderer>(std::move(fresh_renderer));
    imap_tokens = TokenSource::make("IMAP", cfg.imap.oauth2_token_file, cfg.imap.oauth2_token_command, cfg.imap.timeout);
    smtp_tokens = TokenSource::make("SMTP", cfg.smtp.oauth2_token_file, cfg.smtp.oauth2_token_command, cfg.smtp.timeout);
    imap = std::make_unique<ImapClient>(imap_options(cfg, &stop, imap_tokens));
    smtp = std::make_unique<SmtpClient>(SmtpOptions{cfg.smtp.endpoint, cfg.smtp.username, cfg.smtp.password,
                                                    cfg.smtp.ca_file, cfg.smtp.timeout, &stop, smtp_tokens});
    intake_options = IntakeOptions{};
    intake_options.processed_folder = cfg.imap.processed_folder;
    intake_options.failed_folder = cfg.imap.failed_folder;
    intake_options.own_addresses = {cfg.smtp.from_addr, cfg.imap.username};
    intake_options.now = unix_now;
    intake_options.auto_replies_per_sender = cfg.limits.auto_replies_per_sender;
    intake_options.auto_reply_window_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(cfg.limits.auto_reply_window).count();
    intake_options.max_message_size = cfg.limits.max_message_size;
    intake_options.own_domain = parsers::domain_of(cfg.smtp.from_addr);
    intake_options.ack_cutoff =
        store->first_start_at(unix_now()) - std::chrono::duration_cast<std::chrono::seconds>(cfg.intake.ack_window).count();
    outbox_options = OutboxOptions{};
    outbox_options.max_message_size = cfg.limits.max_message_size;
    outbox_options.retry_for_seconds = std::chrono::duration_cast<std::chrono::seconds>(cfg.outbox.retry_for).count();
    outbox_options.desk = DeskIdentity{cfg.desk.name, parsers::Address{cfg.smtp.from_addr, cfg.smtp.from_name}};
    outbox_options.now = unix_now;
    // A holder that has not beaten its heart for this long is gone (crashed on another host).
    lock_stale_after = std::max<std::int64_t>(
        600, 3 * std::chrono::duration_cast<std::chrono::seconds>(cfg.imap.poll_interval).count());
  }

  // Reload (between passes): switches to `fresh` (whose store path is the running one). The store
  // connection is reopened for the new case prefix and review rules; the daemon lock moves when
  // the mailbox changed. @throw LockRefused (another daemon serves the new mailbox; nothing changed),
  //        queue::StoreError
  void apply(config::Config fresh, templates::Renderer fresh_renderer) {
    auto fresh_store = std::make_unique<queue::Store>(store_options(fresh));
    const std::string fresh_key = lock_key_of(fresh);
    if (fresh_key != lock_key) {
      if (auto holder = fresh_store->acquire_lock(fresh_key, ::getpid(), host_name(), unix_now(), lock_stale_after))
        throw refused(*holder);
      fresh_store->release_lock(lock_key, ::getpid());
      lock_key = fresh_key;
    }
    auto fresh_outbox_store = std::make_unique<queue::Store>(store_options(fresh));
    store = std::move(fresh_store);
    outbox_store = std::move(fresh_outbox_store);
    config = std::move(fresh);
    wire(std::move(fresh_renderer));
  }

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
                                      {"bounces", s.bounces},
                                      {"followups", s.followups},
                                      {"cases_rejected", s.rejected},
                                      {"uidvalidity_changes", s.uidvalidity_changed ? 1 : 0}})
      if (value) store->add_counter(name, value, now);
    store->add_counter("intake_passes_ok", 1, now);
    for (double seconds : s.latencies) live->intake_latency.observe(seconds);
  }
  void count(const OutboxStats& o) {
    const std::int64_t now = unix_now();
    if (o.sent) store->add_counter("replies_sent", o.sent, now);
    if (o.failed) store->add_counter("send_failures_permanent", o.failed, now);
    if (o.deferred) store->add_counter("send_failures_temporary", o.deferred, now);
  }

  // Failed OAuth2 logins (also the IDLE connection's) -> the oauth2_failures counter.
  void count_oauth2_failures() {
    std::int64_t n = 0;
    for (const auto& tokens : {imap_tokens, smtp_tokens})
      if (tokens) n += tokens->take_failures();
    if (n) store->add_counter("oauth2_failures", n, unix_now());
  }

  // An outage is logged once when it starts (error) and once when it ends (info), and counted;
  // the failed passes in between log at debug level only.
  void note_availability(const char* what, bool& down, bool unusable, const std::string& detail) {
    const auto& ep = std::string(what) == "IMAP" ? config.imap.endpoint : config.smtp.endpoint;
    if (unusable && !down) {
      spdlog::error("{} server {}:{} unusable: {}", what, ep.host, ep.port, detail);
      store->add_counter(std::string(what) == "IMAP" ? "imap_outages" : "smtp_outages", 1, unix_now());
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

  // The outbox side of a pass, on its own thread and store connection: it sends what is due at
  // once, then again each time intake reports a committed batch, and a last time when intake is
  // done. A backlog's acks go out while its later mails are still being fetched, instead of after
  // the whole intake. One thread sends one reply at a time, so a crash repeats at most one reply.
  class OutboxDrain {
   public:
    explicit OutboxDrain(Worker& w) : w_(w), thread_([this] { run(); }) {}
    ~OutboxDrain() { join(); }  // never throws: finish() reports the thread's error
    OutboxDrain(const OutboxDrain&) = delete;
    OutboxDrain& operator=(const OutboxDrain&) = delete;

    // Intake committed more mail: its replies are due.
    void more() {
      std::lock_guard lock(mutex_);
      more_ = true;
      cv_.notify_one();
    }
    // Intake is over: one last round, then the thread ends. Returns what was sent; rethrows the
    // thread's store error.
    OutboxStats finish() {
      join();
      if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
      return stats_;
    }

   private:
    void join() {
      {
        std::lock_guard lock(mutex_);
        more_ = true;
        done_ = true;
        cv_.notify_one();
      }
      if (thread_.joinable()) thread_.join();
    }

    void run() {
      try {
        for (;;) {
          {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return more_ || done_; });
            if (!more_) return;
            more_ = false;
          }
          // Everything due, a store page (100) at a time; an unreachable server ends the pass's
          // sending (the rest waits for the next pass, without an attempt counted).
          for (;;) {
            if (stats_.unreachable || w_.stop) break;
            OutboxStats o = run_outbox_pass(*w_.smtp, *w_.outbox_store, *w_.renderer, w_.outbox_options);
            stats_.due += o.due;
            stats_.sent += o.sent;
            stats_.deferred += o.deferred;
            stats_.failed += o.failed;
            stats_.unreachable = stats_.unreachable || o.unreachable;
            if (o.due < queue::Store::kOutboxPage) break;
          }
        }
      } catch (...) {
        error_ = std::current_exception();
      }
    }

    Worker& w_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool more_ = true;  // what is due already goes out at once
    bool done_ = false;
    OutboxStats stats_;
    std::exception_ptr error_;
    std::thread thread_;  // last: starts after the members it uses
  };

  // One unit of work: a full pass. The only catch point for mail-server failures of a pass.
  PassOutcome pass() {
    PassOutcome outcome;
    const std::int64_t now = unix_now();
    store->heartbeat_lock(lock_key, ::getpid(), now);
    // Lapsed claims, auto-close and digests first: a digest queued now goes out in this pass.
    review_housekeeping(now);
    OutboxDrain drain(*this);
    // Reopened each pass so code sets imported while the daemon runs are used at once.
    std::unique_ptr<parsers::CodeSetLookup> code_sets;
    try {
      code_sets = queue::open_code_sets(config.store.path);
    } catch (const queue::StoreError& e) {
      spdlog::warn("code sets unavailable, codes are not validated: {}", e.what());
    }
    IntakeOptions pass_options = intake_options;
    pass_options.code_sets = code_sets.get();
    pass_options.on_committed = [&drain] { drain.more(); };
    try {
      IntakeStats s = run_intake_pass(*imap, *store, pass_options);
      count(s);
      outcome.created = s.created;
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
    OutboxStats o = drain.finish();
    count(o);
    outcome.sent = o.sent;
    if (o.due > 0)
      spdlog::info("outbox pass: {} due, {} sent, {} deferred, {} failed", o.due, o.sent, o.deferred, o.failed);
    outcome.smtp_unreachable = o.unreachable;
    outcome.next_outbox_attempt = store->next_outbox_attempt_at();
    note_availability("SMTP", smtp_down, o.unreachable, "replies stay queued and are retried");
    count_oauth2_failures();
    record(outcome);
    return outcome;
  }

  // The review workflow's clock: lapsed claims back to new, quiet answered cases closed, and the
  // consultants' digest when [notify] consultants is on (queued before this pass's outbox run).
  void review_housekeeping(std::int64_t now) {
    const auto h = store->housekeeping(now);
    if (h.leases_expired || h.auto_closed)
      spdlog::info("review: {} claim(s) lapsed, {} case(s) auto-closed", h.leases_expired, h.auto_closed);
    if (config.notify.consultants) {
      const auto every = std::chrono::duration_cast<std::chrono::seconds>(config.notify.digest_every).count();
      if (int n = store->queue_digests(now, every); n > 0) spdlog::info("review: digest queued for {} consultant(s)", n);
    }
  }

  // What /metrics and /healthz report about the last pass.
  void record(const PassOutcome& o) {
    const std::int64_t now = unix_now();
    live->imap = o.imap_unreachable ? LinkState::down : LinkState::up;
    live->smtp = o.smtp_unreachable ? LinkState::down : LinkState::up;
    live->set_errors(o.imap_unreachable ? last_imap_error : "",
                     o.smtp_unreachable ? "the server could not be reached or logged into" : "");
    if (!o.imap_unreachable) live->last_intake_ok_at = now;
    live->last_pass_at = now;
  }

  // [retention] (daily under run(); `casedesk purge` does the same from the CLI).
  void apply_retention() {
    const std::int64_t now = unix_now();
    const auto policy = retention_policy(config.retention, now);
    if (!policy.raw_mail_before && !policy.closed_cases_before) return;
    const auto report = store->purge(policy, now, false);
    live->retention_runs += 1;
    live->retention_last_run_at = now;
    live->retention_raw_messages += report.raw_messages;
    live->retention_cases += static_cast<std::int64_t>(report.closed_cases.size());
    if (report.raw_messages || report.quarantine_raw || report.outbox_raw || !report.closed_cases.empty())
      spdlog::info("retention: {}", describe(report));
    else
      spdlog::debug("retention: nothing past its age");
  }
};

// The event loop of run(): poll timer, IDLE, signals, reload, watchdog, retention, /metrics.
// Everything here runs on the loop's thread except what is posted to `pool` (the worker).
struct Service::Loop {
  Service& service;
  config::Config& config;  // service.config_: read and replaced on the loop's thread only
  asio::io_context io;
  asio::thread_pool pool{1};
  asio::steady_timer poll_timer{io};
  asio::steady_timer idle_retry_timer{io};
  asio::steady_timer watchdog_timer{io};
  asio::steady_timer retention_timer{io};
  asio::steady_timer outbox_watch_timer{io};
  asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  asio::signal_set reload_signals{io, SIGHUP};
  bool pass_running = false;
  bool pass_pending = false;  // a change arrived while a pass ran: run another right after
  bool stopping = false;
  bool reloading = false;
  bool retention_started = false;
  bool smtp_was_down = false;  // the last pass could not use the SMTP server
  bool outbox_watch_started = false;
  bool outbox_check_running = false;
  std::optional<std::int64_t> next_outbox_attempt;  // from the last pass
  std::unique_ptr<IdleWatcher> idle;
  int idle_failures = 0;
  std::int64_t cases_created = 0;  // since start, for STATUS=
  std::mt19937 rng{std::random_device{}()};
  std::shared_ptr<MetricsEndpoint> metrics_endpoint;
  std::unique_ptr<HttpServer> metrics_server;
  std::unique_ptr<WebUi> web_ui;  // the consultants' web UI ([web])
  std::unique_ptr<HttpServer> web_server;
  std::string metrics_listen;  // what metrics_server listens on ("" = none)

  explicit Loop(Service& s) : service(s), config(s.config_) {}

  Worker& worker() { return *service.worker_; }
  LiveState& live() { return *service.live_; }

  // With IDLE pushing changes, polling is only a safety net.
  std::chrono::milliseconds poll_every() const {
    if (idle && idle->active())
      return std::max<std::chrono::milliseconds>(config.imap.poll_interval, std::chrono::minutes(5));
    return config.imap.poll_interval;
  }

  // /healthz: how long without a successful intake pass is too long.
  std::int64_t stale_after() const {
    auto every = std::chrono::duration_cast<std::chrono::seconds>(config.imap.poll_interval).count();
    if (config.imap.idle) every = std::max<std::int64_t>(every, 300);
    return 3 * every + 120;
  }

  // --- passes ---
  void schedule_poll() {
    if (stopping) return;
    auto delay = poll_every();
    if (next_outbox_attempt) {
      // A deferred reply is due before the next poll: wake up for it (IDLE polls only every 5 min).
      const auto until_due = std::chrono::seconds(std::max<std::int64_t>(0, *next_outbox_attempt - unix_now()));
      delay = std::min<std::chrono::milliseconds>(delay, until_due + std::chrono::milliseconds(100));
    }
    poll_timer.expires_after(delay);
    poll_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start_pass();  // operation_aborted: rescheduled or stopping, not an error
    });
  }

  void request_pass() {
    if (stopping) return;
    if (pass_running) {
      pass_pending = true;
      return;
    }
    start_pass();
  }

  void start_pass() {
    pass_running = true;
    pass_pending = false;
    live().pass_running = true;
    live().pass_started_at = unix_now();
    poll_timer.cancel();
    asio::post(pool, [this] {
      PassOutcome outcome;
      bool failed = false;
      try {
        outcome = worker().pass();
      } catch (const std::exception& e) {
        failed = true;
        spdlog::critical("pass failed: {}", e.what());
      }
      asio::post(io, [this, outcome, failed] { pass_finished(outcome, failed); });
    });
  }

  void pass_finished(const PassOutcome& outcome, bool failed) {
    pass_running = false;
    live().pass_running = false;
    if (failed) live().passes_failed += 1;
    next_outbox_attempt = outcome.next_outbox_attempt;
    if (!failed && !outcome.cancelled) smtp_was_down = outcome.smtp_unreachable;
    cases_created += outcome.created;
    if (!failed && !outcome.cancelled) after_pass(outcome);
    if (stopping) {
      finish_stop();
    } else if (pass_pending) {
      start_pass();
    } else {
      schedule_poll();
    }
  }

  // --- systemd: readiness, status, watchdog ---
  void after_pass(const PassOutcome& o) {
    if (!live().ready && !o.imap_unreachable) {
      live().ready = true;
      systemd::notify_ready(status_line(o));
      spdlog::info("ready: store open, IMAP login to {} worked", endpoint_text(config.imap.endpoint));
      start_retention();
      start_outbox_watch();
    } else {
      systemd::notify_status(status_line(o));
    }
  }

  std::string status_line(const PassOutcome& o) const {
    std::string s = o.imap_unreachable ? "IMAP unreachable" : (idle && idle->active() ? "IMAP ok (IDLE)" : "IMAP ok");
    s += o.smtp_unreachable ? ", SMTP unreachable" : ", SMTP ok";
    s += "; " + std::to_string(cases_created) + " case(s) created since start; last pass " + utc_time(unix_now());
    return s;
  }

  void start_watchdog() {
    const auto every = systemd::watchdog_ping_interval();
    if (!every) return;
    spdlog::debug("systemd watchdog: pinging every {} ms", every->count() / 1000);
    ping_watchdog(*every);
  }

  // From the event loop itself: a loop that stops turning stops the pings, and systemd restarts us.
  void ping_watchdog(std::chrono::microseconds every) {
    systemd::notify_watchdog();
    watchdog_timer.expires_after(every);
    watchdog_timer.async_wait([this, every](const boost::system::error_code& ec) {
      if (!ec) ping_watchdog(every);
    });
  }

  // --- IMAP IDLE ---
  void retry_idle_later(const std::string& reason) {
    ++idle_failures;
    // Exponential backoff with jitter (1 s doubling to 5 min, x0.5..1.5); one log line per outage.
    const double base = std::min(300.0, std::pow(2.0, std::min(idle_failures - 1, 9)));
    const double delay = base * std::uniform_real_distribution<double>(0.5, 1.5)(rng);
    if (idle_failures == 1)
      spdlog::warn("IDLE unavailable ({}); polling every {} ms and reconnecting with backoff", reason,
                   poll_every().count());
    else
      spdlog::debug("IDLE reconnect {} failed: {}", idle_failures, reason);
    live().idle_active = false;
    idle_retry_timer.expires_after(std::chrono::milliseconds(static_cast<long>(delay * 1000)));
    idle_retry_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) start_idle();
    });
    schedule_poll_unless_running();  // back to the full poll rate
  }

  void schedule_poll_unless_running() {
    if (!pass_running) schedule_poll();
  }

  void start_idle() {
    if (stopping || !config.imap.idle) return;
    if (!idle) {
      idle = std::make_unique<IdleWatcher>(
          io, imap_options(config, &service.stop_, worker().imap_tokens),
          [this] {
            spdlog::debug("IDLE: mailbox changed");
            request_pass();
          },
          [this](const std::string& reason) { asio::post(io, [this, reason] { retry_idle_later(reason); }); });
    }
    if (auto why = idle->start()) {
      if (why->find("does not offer IDLE") != std::string::npos) {
        spdlog::info("the IMAP server does not offer IDLE; polling every {} ms", config.imap.poll_interval.count());
        return;
      }
      retry_idle_later(*why);
      return;
    }
    if (idle_failures > 0) spdlog::info("IDLE restored after {} failed attempt(s)", idle_failures);
    else spdlog::info("IDLE active on {}", config.imap.endpoint.path);
    idle_failures = 0;
    live().idle_active = true;
    request_pass();  // anything that arrived while IDLE was down
  }

  void stop_idle() {
    idle_retry_timer.cancel();
    if (idle) idle->stop();
    idle.reset();
    idle_failures = 0;
    live().idle_active = false;
  }

  // --- stop ---
  void on_stop_signal(int signo) {
    spdlog::info("signal {} received, stopping", signo);
    systemd::notify_stopping("stopping");
    stopping = true;
    service.stop_ = true;  // aborts a transfer in progress through curl's progress callback
    poll_timer.cancel();
    idle_retry_timer.cancel();
    watchdog_timer.cancel();
    retention_timer.cancel();
    outbox_watch_timer.cancel();
    reload_signals.cancel();
    if (idle) idle->stop();
    if (!pass_running && !reloading) finish_stop();
  }

  void finish_stop() {
    stop_metrics();
    if (web_server) web_server->stop();
    io.stop();
  }

  // --- reload (SIGHUP) ---
  void wait_for_reload_signal() {
    reload_signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload();
      wait_for_reload_signal();
    });
  }

  void reload() {
    if (stopping) return;
    if (reloading) {
      spdlog::warn("reload: one is already in progress; this SIGHUP is ignored");
      return;
    }
    const auto file = config.source;
    spdlog::info("reload: reading {}", file.string());
    systemd::notify_reloading("reloading " + file.string());
    config::Config fresh;
    std::optional<templates::Renderer> fresh_renderer;
    try {
      fresh = config::load_config(file);
      fresh_renderer.emplace(fresh.templates.dir);
    } catch (const config::ConfigError& e) {
      for (const auto& issue : e.issues()) spdlog::error("reload refused: {}", issue.to_string());
      return reload_refused("the config file has errors");
    } catch (const templates::TemplateError& e) {
      spdlog::error("reload refused: {}: {}", file.string(), e.what());
      return reload_refused("a template does not compile");
    } catch (const std::exception& e) {
      spdlog::error("reload refused: {}: {}", file.string(), e.what());
      return reload_refused("the config could not be read");
    }
    if (fresh.store.path != config.store.path) {
      spdlog::warn("reload: store.path changed ({} -> {}); this needs a restart, still using {}",
                   config.store.path.string(), fresh.store.path.string(), config.store.path.string());
      fresh.store.path = config.store.path;
    }
    const auto& fw = fresh.web;
    const auto& cw = config.web;
    if (fw.enabled != cw.enabled || fw.listen.text != cw.listen.text || fw.session_timeout != cw.session_timeout ||
        fw.max_connections != cw.max_connections || fw.max_connections_per_client != cw.max_connections_per_client ||
        fw.header_timeout != cw.header_timeout || fw.body_timeout != cw.body_timeout ||
        fw.trusted_proxies != cw.trusted_proxies || fw.tls_proxy != cw.tls_proxy)
      spdlog::warn("reload: [web] changed; the web UI keeps its settings until a restart");
    reloading = true;
    auto renderer = std::make_shared<templates::Renderer>(std::move(*fresh_renderer));
    auto staged = std::make_shared<config::Config>(fresh);
    asio::post(pool, [this, staged, renderer] {
      std::string error;
      try {
        worker().apply(*staged, std::move(*renderer));
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(io, [this, staged, error] { reload_applied(std::move(*staged), error); });
    });
  }

  void reload_refused(const std::string& why) {
    spdlog::error("reload refused ({}); the running configuration is kept", why);
    live().reloads_failed += 1;
    live().last_reload_ok = false;
    live().last_reload_at = unix_now();
    systemd::notify_ready("reload refused: " + why + "; running with the previous configuration");
  }

  void reload_applied(config::Config fresh, const std::string& error) {
    reloading = false;
    if (!error.empty()) {
      spdlog::error("reload refused: {}", error);
      reload_refused("it could not be applied");
      if (stopping && !pass_running) finish_stop();
      return;
    }
    config = std::move(fresh);
    live().reloads_ok += 1;
    live().last_reload_ok = true;
    live().last_reload_at = unix_now();
    if (stopping) {
      if (!pass_running) finish_stop();
      return;
    }
    // New credentials or mailbox: the IDLE connection starts over with them.
    stop_idle();
    if (config.imap.idle) start_idle();
    restart_metrics();
    if (metrics_endpoint) metrics_endpoint->set_stale_after(stale_after());
    if (metrics_endpoint) metrics_endpoint->set_token(config.metrics.token);
    spdlog::info("reload: done; now serving {}, polling every {} ms", endpoint_text(config.imap.endpoint),
                 config.imap.poll_interval.count());
    systemd::notify_ready("configuration reloaded");
    request_pass();
  }

  // --- replies queued by other processes ---
  // `casedesk queue answer|ask|reject` writes the reply to the outbox from its own process; the
  // web UI wakes us itself. Every 2 s, between passes, the worker looks for a due reply and starts
  // a pass for it, so a consultant's answer leaves within seconds instead of at the next poll
  // (every 5 min with IDLE). Quiet while the SMTP server is down: deferred replies keep their
  // backoff schedule.
  static constexpr std::chrono::seconds kOutboxWatchEvery{2};

  void start_outbox_watch() {
    if (outbox_watch_started) return;
    outbox_watch_started = true;
    schedule_outbox_watch();
  }

  void schedule_outbox_watch() {
    if (stopping) return;
    outbox_watch_timer.expires_after(kOutboxWatchEvery);
    outbox_watch_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      check_outbox();
      schedule_outbox_watch();
    });
  }

  void check_outbox() {
    if (stopping || reloading || pass_running || smtp_was_down || outbox_check_running) return;
    outbox_check_running = true;
    asio::post(pool, [this] {
      bool due = false;
      try {
        const auto next = worker().store->next_outbox_attempt_at();
        due = next && *next <= unix_now();
      } catch (const std::exception& e) {
        spdlog::warn("outbox check failed: {}", e.what());
      }
      asio::post(io, [this, due] {
        outbox_check_running = false;
        if (due && !stopping) {
          spdlog::debug("outbox: a reply queued elsewhere is due; starting a pass");
          request_pass();
        }
      });
    });
  }

  // --- retention ---
  void start_retention() {
    if (retention_started) return;
    retention_started = true;
    run_retention();
  }

  void run_retention() {
    if (stopping) return;
    asio::post(pool, [this] {
      try {
        worker().apply_retention();
      } catch (const std::exception& e) {
        spdlog::error("retention failed: {}", e.what());
      }
    });
    retention_timer.expires_after(std::chrono::hours(24));
    retention_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) run_retention();
    });
  }

  // --- /metrics and /healthz ---
  void start_metrics() {
    if (!config.metrics.enabled) return;
    const auto& l = config.metrics.listen;
    if (!metrics_endpoint)
      metrics_endpoint = std::make_shared<MetricsEndpoint>(store_options(config), service.live_, CASEDESK_VERSION);
    metrics_endpoint->set_stale_after(stale_after());
    metrics_endpoint->set_token(config.metrics.token);
    auto endpoint = metrics_endpoint;
    metrics_server = std::make_unique<HttpServer>(
        io, l.host, l.port, [endpoint](const HttpRequest& r) { return endpoint->handle(r); },
        HttpLimits{.max_header_bytes = 8 * 1024,
                   .max_body_bytes = 4 * 1024,
                   .read_timeout = std::chrono::seconds(10),
                   .write_timeout = std::chrono::seconds(10),
                   .handler_threads = 1,
                   .max_connections = 64});
    try {
      metrics_server->start();
      metrics_listen = l.text;
      spdlog::info("metrics on http://{}:{}/metrics and /healthz", l.host, metrics_server->port());
    } catch (const HttpError& e) {
      // Intake and replies matter more than monitoring: go on without the listener.
      spdlog::error("metrics: {}; /metrics and /healthz are not served", e.what());
      metrics_server.reset();
      metrics_listen.clear();
    }
  }

  // --- the web UI ([web]); a listener that cannot start is logged and the daemon goes on ---
  void start_web() {
    if (!config.web.enabled) return;
    try {
      WebUiOptions options;
      options.on_reply_queued = [this] { asio::post(io, [this] { request_pass(); }); };  // send it now
      web_ui = std::make_unique<WebUi>(config, options);
      HttpLimits limits;
      limits.max_connections = config.web.max_connections;
      limits.max_connections_per_client = config.web.max_connections_per_client;
      limits.header_timeout = config.web.header_timeout;
      limits.body_timeout = config.web.body_timeout;
      limits.read_timeout = std::max(limits.read_timeout, std::max(config.web.header_timeout, config.web.body_timeout));
      limits.trusted_proxies = config.web.trusted_proxies;
      web_server = std::make_unique<HttpServer>(io, config.web.listen.host, config.web.listen.port, web_ui->handler(),
                                                limits);
      web_server->start();
      spdlog::info("web UI on http://{}:{}/", config.web.listen.host, web_server->port());
    } catch (const std::exception& e) {
      spdlog::error("web: {}; the web UI is not served", e.what());
      web_server.reset();
    }
  }

  void stop_metrics() {
    if (metrics_server) metrics_server->stop();
    metrics_server.reset();
    metrics_listen.clear();
  }

  void restart_metrics() {
    const std::string wanted = config.metrics.enabled ? config.metrics.listen.text : "";
    if (wanted == metrics_listen && (wanted.empty() || metrics_server)) return;
    stop_metrics();
    start_metrics();
  }

  int run() {
    stop_signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (!ec) on_stop_signal(signo);
    });
    wait_for_reload_signal();
    start_watchdog();
    start_metrics();
    start_web();
    spdlog::info("casedesk serving {}:{}/{}, polling every {} ms{}", config.imap.endpoint.host,
                 config.imap.endpoint.port, config.imap.endpoint.path, config.imap.poll_interval.count(),
                 config.imap.idle ? " (IDLE when offered)" : "");
    systemd::notify_status("store open; logging in to " + endpoint_text(config.imap.endpoint));
    if (config.imap.idle) start_idle();
    request_pass();
    io.run();
    pool.join();
    idle.reset();
    spdlog::info("stopped");
    return kExitOk;
  }
};

Service::Service(config::Config config) : config_(std::move(config)), live_(std::make_shared<LiveState>()) {
  live_->started_at = unix_now();
  secure_store_location(config_.store.path);
  worker_ = std::make_unique<Worker>(config_, stop_, live_);
}

Service::~Service() = default;

int Service::run_once() {
  PassOutcome o = worker_->pass();
  return (o.imap_unreachable || o.smtp_unreachable) ? kExitTempFail : kExitOk;
}

int Service::run() {
  Loop loop(*this);
  return loop.run();
}

}  // namespace casedesk::daemon
