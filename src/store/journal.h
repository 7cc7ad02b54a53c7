// The journal of the run a process executes: where a committed batch of events becomes durable.
// Internal to src/store; docs/store.md describes it for operators.
//
// Design. Every engine turn commits its events before acting on them (write-ahead). Writing them
// straight into SQLite cost ~100 us a turn: a transaction touches ~7 pages (events and their
// index, tasks, attempts and their keys) for 3-5 small rows. So Commit() appends the batch to
// this file in one write() (~5 us), and the events reach the SQLite tables later, many turns to
// a transaction ("publishing"), which shares those pages among the turns. A write() that has
// returned survives the process being killed, like a SQLite commit with synchronous=NORMAL; a
// power loss can drop the last commits of either. `runs.journal_offset` (updated in each
// publishing transaction) says how much of the file the tables hold; the next process to execute
// the run (resume, rollback, cancel) publishes the rest first.
//
// Format: a sequence of records, each
//   u32 payload length | u32 CRC-32C of the payload | payload
// payload: u32 event count, then per event: i64 time_us, str kind (its name, as in the events
// table), str task, i64 attempt, str status, str error_class, i64 exit_code, str message,
// i64 pid, i64 due_us, str data; str = u32 length | bytes; integers little-endian. The run id is
// the journal's own. A record that is cut short or fails its CRC (a torn write) ends the journal,
// and so does one whose CRC holds but whose payload Encode could not have written (an attempt or
// exit code outside int, trailing bytes, an event kind this build does not know).
//
// Rejected: publishing from a second thread (SQLite work would still compete with the tasks for
// the same cores, and every reader of this process would need locking); a journal per state
// folder (runs are executed by different processes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/event.h"

namespace sluice {

// CRC-32C (Castagnoli) of `data`, as in the record header.
uint32_t Crc32c(std::string_view data);

std::string EncodeJournalRecord(const std::vector<Event>& batch);

struct JournalRecord {
  int64_t end = 0;  // the file offset just past this record
  std::vector<Event> events;
};

// Decodes the whole records of `bytes` from `offset` on; stops before the first one that is cut
// short or damaged, and sets `*good_end` to the offset where it starts (or the end).
std::vector<JournalRecord> DecodeJournal(std::string_view bytes, int64_t offset,
                                         const std::string& run_id, int64_t* good_end);

}  // namespace sluice
