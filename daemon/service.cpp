#include "daemon/service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>

#include "daemon/imap_client.hpp"
#include "daemon/intake.hpp"
#include "daemon/outbox.hpp"
#include "daemon/smtp_client.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

namespace casedesk::daemon {
namespace asio = boost::asio;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

// Everything one pass needs. Lives on (and is used by) one thread at a time.
struct Service::Worker {
  const config::Config& config;
  queue::Store store;
  templates::Renderer renderer;
  ImapClient imap;
  SmtpClient smtp;
  IntakeOptions intake_options;
  OutboxOptions outbox_options;

  Worker(const config::Config& cfg, const std::atomic<bool>& stop)
      : config(cfg),
        store(queue::StoreOptions{cfg.store.path, cfg.desk.case_prefix}),
        renderer(cfg.templates.dir),
        imap(ImapOptions{cfg.imap.endpoint, cfg.imap.username, cfg.imap.password, cfg.imap.ca_file, cfg.imap.timeout,
                         &stop}),
        smtp(SmtpOptions{cfg.smtp.endpoint, cfg.smtp.username, cfg.smtp.password, cfg.smtp.ca_file, cfg.smtp.timeout,
                         &stop}) {
    intake_options.processed_folder = cfg.imap.processed_folder;
    intake_options.failed_folder = cfg.imap.failed_folder;
    intake_options.own_addresses = {cfg.smtp.from_addr, cfg.imap.username};
    intake_options.now = unix_now;
    outbox_options.desk = DeskIdentity{cfg.desk.name, parsers::Address{cfg.smtp.from_addr, cfg.smtp.from_name}};
    outbox_options.now = unix_now;
  }

  // One unit of work: a full pass. The only catch point for mail-server failures of a pass.
  PassOutcome pass() {
    PassOutcome outcome;
    try {
      IntakeStats s = run_intake_pass(imap, store, intake_options);
      if (s.seen > 0)
        spdlog::info("intake pass: {} in mailbox, {} new case(s), {} duplicate(s), {} quarantined, {} moved",
                     s.seen, s.created, s.duplicates, s.quarantined, s.moved);
    } catch (const MailError& e) {
      if (e.kind() == MailError::Kind::cancelled) {
        outcome.cancelled = true;
        return outcome;
      }
      outcome.imap_unreachable = true;
      spdlog::error("intake: IMAP server {}:{} unusable: {}", config.imap.endpoint.host, config.imap.endpoint.port,
                    e.what());
    }
    OutboxStats o = run_outbox_pass(smtp, store, renderer, outbox_options);
    if (o.due > 0)
      spdlog::info("outbox pass: {} due, {} sent, {} deferred, {} failed", o.due, o.sent, o.deferred, o.failed);
    outcome.smtp_unreachable = o.unreachable;
    if (o.unreachable)
      spdlog::error("outbox: SMTP server {}:{} unusable", config.smtp.endpoint.host, config.smtp.endpoint.port);
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
  asio::steady_timer timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool pass_running = false;
  bool stopping = false;

  std::function<void()> start_pass;
  auto schedule_next = [&] {
    if (stopping) return;
    timer.expires_after(config_.imap.poll_interval);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) start_pass();  // operation_aborted: stopping, not an error
    });
  };
  start_pass = [&] {
    pass_running = true;
    asio::post(pool, [&] {
      PassOutcome outcome;
      try {
        outcome = worker_->pass();
      } catch (const std::exception& e) {
        spdlog::critical("pass failed: {}", e.what());
      }
      asio::post(io, [&, outcome] {
        (void)outcome;
        pass_running = false;
        if (stopping)
          io.stop();
        else
          schedule_next();
      });
    });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {} received, stopping", signo);
    stopping = true;
    stop_ = true;  // aborts a transfer in progress through curl's progress callback
    timer.cancel();
    if (!pass_running) io.stop();
  });

  spdlog::info("casedesk serving {}:{}/{} every {} ms", config_.imap.endpoint.host, config_.imap.endpoint.port,
               config_.imap.endpoint.path, config_.imap.poll_interval.count());
  start_pass();
  io.run();
  pool.join();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace casedesk::daemon
