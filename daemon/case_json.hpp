#pragma once
// JSON shapes of cases for `casedesk queue list --json` / `queue show --json`.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "queue/store.hpp"

namespace casedesk::daemon {

// "2026-11-26T09:15:00Z"
std::string iso_utc(std::int64_t epoch);

// {"ref","status","ack_state","ack_reason","submitter":{"addr","name"},"subject","created_at",
//  "updated_at","codes":[...]}
nlohmann::json case_summary_json(const queue::CaseSummary& c);

// The summary plus "messages", "events" and "outbox".
nlohmann::json case_detail_json(const queue::CaseDetail& c);

}  // namespace casedesk::daemon
