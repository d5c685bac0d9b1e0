#include "daemon/store_options.hpp"

#include <chrono>

namespace casedesk::daemon {
namespace {

std::int64_t seconds(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

queue::StoreOptions store_options(const config::Config& config) {
  queue::StoreOptions options;
  options.path = config.store.path;
  options.case_prefix = config.desk.case_prefix;
  options.review.claim_lease = seconds(config.review.claim_lease);
  options.review.auto_close = seconds(config.review.auto_close);
  options.review.sla_low = seconds(config.review.sla_low);
  options.review.sla_normal = seconds(config.review.sla_normal);
  options.review.sla_high = seconds(config.review.sla_high);
  options.review.sla_urgent = seconds(config.review.sla_urgent);
  options.submitters.reject_unknown = config.submitters.reject_unknown;
  options.submitters.guest_quota = config.submitters.guest_quota;
  return options;
}

}  // namespace casedesk::daemon
