#pragma once
// The store's options as the config file sets them: path, case prefix, the review workflow's
// timings ([review]) and the submitter policy ([submitters]). Every place that opens the Store
// (serve, the CLI) uses this, so the SLA and lease rules are the same everywhere.

#include "config/config.hpp"
#include "queue/store.hpp"

namespace casedesk::daemon {

queue::StoreOptions store_options(const config::Config& config);

}  // namespace casedesk::daemon
