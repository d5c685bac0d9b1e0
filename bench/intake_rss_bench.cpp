// Peak memory of the whole intake of one large mail (issue 12 item 11): the same calls as the
// intake pass and the outbox, in order, on a store file in /tmp:
//   1. prepare the fetched bytes (parse_message, extract_codes, PHI kinds), as run_intake_pass does;
//   2. Store::enqueue (the case, its message with the raw bytes, the stored attachments);
//   3. the ack: Store::get_case, compose_ack, Store::set_outbox_content, as run_outbox_pass does.
// Prints the peak RSS (getrusage ru_maxrss) after each step against the message size.
//
//   build/bench/intake_rss_bench [MB]      default 25
//
// "baseline" is the peak with the message held in memory (as fetched); the goal is a peak of at
// most 3x the message size. Reference in the same run: parse_message + extract_codes alone (the
// figure of rss_bench), measured in a child process so it does not raise this one's peak.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "big_mail.hpp"
#include "daemon/intake.hpp"
#include "daemon/replies.hpp"
#include "parsers/codes.hpp"
#include "parsers/message.hpp"
#include "queue/store.hpp"
#include "templates/renderer.hpp"

using namespace casedesk;

namespace {

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// parse_message + extract_codes alone, in a child: its peak in MiB (written through a pipe).
double parse_only_peak(std::size_t target) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string msg = bench::make_message(target);
    auto m = parsers::parse_message(msg);
    auto codes = parsers::extract_codes(m);
    double peak = peak_rss_mb();
    if (write(fds[1], &peak, sizeof peak) != sizeof peak) _exit(1);
    _exit(codes.empty() ? 1 : 0);
  }
  close(fds[1]);
  double peak = -1;
  if (read(fds[0], &peak, sizeof peak) != sizeof peak) peak = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return peak;
}

}  // namespace

int main(int argc, char** argv) {
  double mb = argc > 1 ? std::atof(argv[1]) : 25.0;
  const auto target = static_cast<std::size_t>(mb * 1024 * 1024);
  const double reference = parse_only_peak(target);

  const std::filesystem::path db = "/tmp/casedesk-intake-rss-" + std::to_string(getpid()) + ".db";
  std::filesystem::remove(db);
  double start = peak_rss_mb();
  double size_mb = 0, baseline = 0, after_prepare = 0, after_enqueue = 0, after_ack = 0;
  std::size_t ack_bytes = 0;
  double seconds[3] = {0, 0, 0};
  {
    queue::StoreOptions so;
    so.path = db;
    queue::Store store(so);
    templates::Renderer renderer;
    daemon::DeskIdentity desk{"Coding Desk", parsers::Address{"desk@desk.example", "Coding Desk"}};
    daemon::IntakeOptions options;
    options.now = unix_now;
    const double open_peak = peak_rss_mb();
    (void)open_peak;

    std::string raw = bench::make_message(target);  // as fetched
    size_mb = static_cast<double>(raw.size()) / (1024.0 * 1024.0);
    baseline = peak_rss_mb();

    auto t0 = std::chrono::steady_clock::now();
    queue::MailSource source{"INBOX", 1, 1};
    queue::IncomingMail mail = daemon::take_incoming(raw, source, options);  // as run_intake_pass
    after_prepare = peak_rss_mb();
    auto t1 = std::chrono::steady_clock::now();
    auto result = store.enqueue(mail, options.now());
    after_enqueue = peak_rss_mb();
    auto t2 = std::chrono::steady_clock::now();
    {
      // run_outbox_pass: the due ack, composed from the case and kept in the outbox.
      auto items = store.due_outbox(options.now());
      for (auto& item : items) {
        if (item.kind != "ack") continue;
        auto detail = store.get_case(item.case_id);
        auto reply = daemon::compose_ack(*detail, renderer, desk, options.now());
        store.set_outbox_content(item.id, reply.message_id, reply.to_addr, reply.raw);
        ack_bytes = reply.raw.size();
      }
    }
    after_ack = peak_rss_mb();
    auto t3 = std::chrono::steady_clock::now();
    seconds[0] = std::chrono::duration<double>(t1 - t0).count();
    seconds[1] = std::chrono::duration<double>(t2 - t1).count();
    seconds[2] = std::chrono::duration<double>(t3 - t2).count();
    std::printf("case %s, %zu attachments, ack %zu bytes\n", result.case_ref.c_str(), mail.message.attachments.size(),
                ack_bytes);
  }
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  std::filesystem::remove(db.string() + "-shm");

  std::printf("message:                     %8.1f MiB\n", size_mb);
  std::printf("peak RSS at start:           %8.1f MiB\n", start);
  std::printf("baseline (message held):     %8.1f MiB  = %.2fx\n", baseline, baseline / size_mb);
  std::printf("after prepare (parse, codes):%8.1f MiB  = %.2fx  (%.2f s)\n", after_prepare, after_prepare / size_mb,
              seconds[0]);
  std::printf("after enqueue (store):       %8.1f MiB  = %.2fx  (%.2f s)\n", after_enqueue, after_enqueue / size_mb,
              seconds[1]);
  std::printf("after the ack (compose):     %8.1f MiB  = %.2fx  (%.2f s)\n", after_ack, after_ack / size_mb,
              seconds[2]);
  std::printf("intake peak:                 %8.1f MiB  = %.2fx the message size (goal <= 3x)\n", after_ack,
              after_ack / size_mb);
  if (reference > 0)
    std::printf("reference, parse + extract alone (child): %.1f MiB = %.2fx; whole intake / parse alone = %.2f\n",
                reference, reference / size_mb, after_ack / reference);
  return after_ack / size_mb <= 3.0 ? 0 : 1;
}
