// Masking of secret values in text that Sluice keeps or shows: task logs, files an attempt
// leaves, output values, messages. Every byte that belongs to an occurrence of any value is
// replaced; each maximal run of such bytes becomes one "***".
//
// Design. Logs arrive in chunks (a pipe's reads, a file read 64 KiB at a time), and a value may
// be split across two of them. A MaskStream therefore holds back the last (longest value - 1)
// bytes of what it was fed, until it knows whether they start an occurrence. Overlapping values
// ("abcd" and "cdef" in "abcdef") and a value inside another ("tok" in "token") are masked as
// the union of their occurrences: "***". At each position the longest value that matches is
// taken; candidates are found by a table of the values' first bytes, so text that holds none
// of those bytes is scanned at memchr-like speed.
//
// Rejected: masking each write as it comes (a value split across two writes leaked), and
// leftmost-first replacement of one value at a time (the tail of an overlapping second value
// stayed readable).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// The values to mask, prepared once; immutable and shareable across threads and streams.
class Masker {
 public:
  // `values`: secret values, without their trailing newlines; empty ones are dropped. A value of
  // several lines also masks each of its lines of 4 bytes or more (a task that prints one line
  // of a PEM key).
  explicit Masker(const std::vector<std::string>& values);

  bool empty() const { return values_.empty(); }
  size_t longest() const { return longest_; }
  // `text` with every occurrence masked.
  std::string Mask(std::string_view text) const;
  // Whether `text` holds an occurrence of any value.
  bool Contains(std::string_view text) const;

  // The length of the longest value that occurs at text[pos] (0: none). REQUIRES: pos < size.
  size_t MatchAt(std::string_view text, size_t pos) const;

 private:
  std::vector<std::string> values_;  // longest first, each once
  std::array<bool, 256> first_{};    // first bytes of the values
  size_t longest_ = 0;
};

// Masks a stream fed in chunks of any size; owned by one writer.
class MaskStream {
 public:
  explicit MaskStream(std::shared_ptr<const Masker> masker) : masker_(std::move(masker)) {}
  // Appends to `out` what of the text fed so far is decided; keeps the rest.
  void Feed(std::string_view chunk, std::string* out);
  // Appends the rest: the stream is over.
  void Finish(std::string* out);
  // Whether any occurrence was masked so far.
  bool masked() const { return masked_; }

 private:
  void Scan(size_t limit, std::string* out);

  std::shared_ptr<const Masker> masker_;
  std::string buf_;        // text not yet written out, from buffer offset 0
  size_t scanned_ = 0;     // positions of buf_ checked for a match start
  int64_t cover_end_ = -1;  // end of the last masked run (-1: none that touches buf_)
  size_t out_pos_ = 0;     // bytes of buf_ before it are written out (or masked)
  bool masked_ = false;
};

}  // namespace sluice
