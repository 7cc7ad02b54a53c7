#include "store/journal.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice {

// Reflected, table-driven.
uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutI64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}
void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reads what Put* wrote; any read past the end makes ok() false (and returns zeros).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  uint32_t U32() {
    uint32_t v = 0;
    if (!Take(4)) return 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(last_[i])) << (8 * i);
    return v;
  }
  int64_t I64() {
    uint64_t v = 0;
    if (!Take(8)) return 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(last_[i])) << (8 * i);
    return static_cast<int64_t>(v);
  }
  // An int written by PutI64; a value outside int's range is not something Encode wrote.
  int Int() {
    int64_t v = I64();
    if (v < INT32_MIN || v > INT32_MAX) ok_ = false;
    return ok_ ? static_cast<int>(v) : 0;
  }
  std::string Str() {
    uint32_t n = U32();
    if (!ok_ || !Take(n)) return {};
    return std::string(last_, n);
  }

 private:
  bool Take(size_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return false;
    }
    last_ = in_.data();
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
  const char* last_ = nullptr;
  bool ok_ = true;
};

constexpr size_t kHeader = 8;

}  // namespace

std::string EncodeJournalRecord(const std::vector<Event>& batch) {
  std::string payload;
  PutU32(payload, static_cast<uint32_t>(batch.size()));
  for (const Event& e : batch) {
    PutI64(payload, e.time_us);
    PutStr(payload, EventKindName(e.kind));
    PutStr(payload, e.task);
    PutI64(payload, e.attempt);
    PutStr(payload, e.status);
    PutStr(payload, e.error_class);
    PutI64(payload, e.exit_code);
    PutStr(payload, e.message);
    PutI64(payload, e.pid);
    PutI64(payload, e.due_us);
    PutStr(payload, e.data);
  }
  std::string record;
  record.reserve(kHeader + payload.size());
  PutU32(record, static_cast<uint32_t>(payload.size()));
  PutU32(record, Crc32c(payload));
  record += payload;
  return record;
}

std::vector<JournalRecord> DecodeJournal(std::string_view bytes, int64_t offset,
                                         const std::string& run_id, int64_t* good_end) {
  std::vector<JournalRecord> out;
  size_t pos = offset < 0 ? 0 : static_cast<size_t>(offset);
  *good_end = static_cast<int64_t>(std::min(pos, bytes.size()));
  while (pos + kHeader <= bytes.size()) {
    Reader header(bytes.substr(pos, kHeader));
    uint32_t len = header.U32();
    uint32_t crc = header.U32();
    if (len > bytes.size() - pos - kHeader) break;  // cut short
    std::string_view payload = bytes.substr(pos + kHeader, len);
    if (Crc32c(payload) != crc) break;
    Reader r(payload);
    JournalRecord rec;
    uint32_t count = r.U32();
    for (uint32_t i = 0; r.ok() && i < count; ++i) {
      Event e;
      e.run_id = run_id;
      e.time_us = r.I64();
      std::string kind = r.Str();
      e.task = r.Str();
      e.attempt = r.Int();
      e.status = r.Str();
      e.error_class = r.Str();
      e.exit_code = r.Int();
      e.message = r.Str();
      e.pid = r.I64();
      e.due_us = r.I64();
      e.data = r.Str();
      if (r.ok() && !ParseEventKind(kind, &e.kind)) break;  // from a newer sluice: stop here
      rec.events.push_back(std::move(e));
    }
    if (!r.ok() || !r.done() || rec.events.size() != count) break;
    pos += kHeader + len;
    rec.end = static_cast<int64_t>(pos);
    *good_end = rec.end;
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace sluice
