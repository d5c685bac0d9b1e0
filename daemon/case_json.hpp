#pragma once
// JSON shapes of cases for `casedesk queue list --json` / `queue show --json`.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "queue/store.hpp"

namespace casedesk::daemon {

// "2026-11-26T09:15:00Z"
std::string iso_utc(std::int64_t epoch);

// {"ref","status","ack_state","ack_reason","submitter":{"addr","name"},"subject","created_at",
//  "updated_at","codes":[...],"code_notes","priority","owner","lease_until","received_at","due_at",
//  "overdue","status_changed_at","message_count","phi","suggestions"}. Times are ISO 8601 UTC; owner
//  and lease_until are null when unclaimed. Fields are added over time, never renamed.
nlohmann::json case_summary_json(const queue::CaseSummary& c);

// The summary plus "messages", "events", "outbox" and "notes" (internal notes: id, at, author, text).
nlohmann::json case_detail_json(const queue::CaseDetail& c);

// What the store keeps of each incoming message besides its text (Store::message_content), by
// message id.
using MessageContents = std::map<std::int64_t, queue::Store::MessageContent>;

// As above; each message found in `contents` also gets "content": "stored" | "purged", "purged_at"
// (ISO 8601, or null) and "attachments": [{"index","filename","content_type","size","data_size",
// "text"}] (size: decoded bytes, null for message/* parts; data_size: bytes to download; text: the
// extracted text or null).
nlohmann::json case_detail_json(const queue::CaseDetail& c, const MessageContents& contents);

// The stored content of every incoming message of `c`, read from `store` (never the raw mail;
// content an older release stored is stored now, once). @throw queue::StoreError
MessageContents message_contents(queue::Store& store, const queue::CaseDetail& c, std::int64_t now);

}  // namespace casedesk::daemon
