#include "common/masker.h"

#include <algorithm>
#include <cstring>

namespace sluice {
namespace {

constexpr std::string_view kMask = "***";

// Where a masked run is being built while text is scanned: shared by Mask and MaskStream.
struct ScanState {
  // End of the last masked run (exclusive; -1: none yet). A match that starts at it or before
  // extends the run: adjacent occurrences become one "***".
  int64_t cover_end = -1;
  size_t out_pos = 0;    // text before it is written out or masked
  bool masked = false;
};

// Checks the match starts in text[from, limit), appending what they decide to `out`: the
// unmasked bytes before each run, then "***" for the run. Bytes before `limit` that no run
// covers are written out at the end.
void ScanRange(const Masker& m, std::string_view text, size_t from, size_t limit, ScanState& s,
               std::string* out) {
  for (size_t p = from; p < limit; ++p) {
    size_t len = m.MatchAt(text, p);
    if (len == 0) continue;
    const int64_t start = static_cast<int64_t>(p);
    if (start > s.cover_end) {  // a new masked run
      out->append(text.substr(s.out_pos, p - s.out_pos));
      out->append(kMask);
      s.masked = true;
    }
    s.cover_end = std::max(s.cover_end, start + static_cast<int64_t>(len));
    s.out_pos = static_cast<size_t>(s.cover_end);
  }
  if (s.out_pos < limit) {
    out->append(text.substr(s.out_pos, limit - s.out_pos));
    s.out_pos = limit;
  }
}

}  // namespace

Masker::Masker(const std::vector<std::string>& values) {
  std::vector<std::string> all;
  for (std::string v : values) {
    // A value read from a file often ends in a newline: the newline is not what must be hidden.
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    if (v.empty()) continue;
    all.push_back(v);
    if (v.find('\n') == std::string::npos) continue;
    size_t start = 0;
    while (start <= v.size()) {
      size_t nl = v.find('\n', start);
      std::string_view line = std::string_view(v).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() >= 4) all.emplace_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  std::sort(all.begin(), all.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  all.erase(std::unique(all.begin(), all.end()), all.end());
  values_ = std::move(all);
  for (const auto& v : values_) first_[static_cast<unsigned char>(v[0])] = true;
  longest_ = values_.empty() ? 0 : values_.front().size();
}

size_t Masker::MatchAt(std::string_view text, size_t pos) const {
  if (!first_[static_cast<unsigned char>(text[pos])]) return 0;
  const size_t left = text.size() - pos;
  for (const auto& v : values_) {  // longest first: the first that matches is the longest
    if (v.size() <= left && std::memcmp(text.data() + pos, v.data(), v.size()) == 0) {
      return v.size();
    }
  }
  return 0;
}

std::string Masker::Mask(std::string_view text) const {
  if (values_.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  ScanState s;
  ScanRange(*this, text, 0, text.size(), s, &out);
  return out;
}

bool Masker::Contains(std::string_view text) const {
  for (size_t p = 0; p < text.size(); ++p) {
    if (MatchAt(text, p) > 0) return true;
  }
  return false;
}

void MaskStream::Feed(std::string_view chunk, std::string* out) {
  buf_.append(chunk);
  const size_t keep = masker_->longest() > 0 ? masker_->longest() - 1 : 0;
  // A match may start only where the longest value still fits: later starts wait for more.
  if (buf_.size() > keep) Scan(buf_.size() - keep, out);
}

void MaskStream::Finish(std::string* out) {
  Scan(buf_.size(), out);
  buf_.clear();
  scanned_ = out_pos_ = 0;
  cover_end_ = -1;
}

void MaskStream::Scan(size_t limit, std::string* out) {
  if (limit < scanned_) return;
  ScanState s{cover_end_, out_pos_, masked_};
  ScanRange(*masker_, buf_, scanned_, limit, s, out);
  masked_ = s.masked;
  // Everything before `limit` is decided: drop it, keeping the offsets of what stays.
  const size_t drop = std::min(limit, s.out_pos);
  buf_.erase(0, drop);
  scanned_ = limit - drop;
  cover_end_ = std::max<int64_t>(s.cover_end - static_cast<int64_t>(drop), -1);
  out_pos_ = s.out_pos - drop;
}

}  // namespace sluice
