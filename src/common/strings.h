// Small string helpers shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

std::string_view Trim(std::string_view s);
std::vector<std::string> Split(std::string_view s, char sep);
bool StartsWith(std::string_view s, std::string_view prefix);
// Non-empty and only 0-9.
bool AllDigits(std::string_view s);
std::string Join(std::span<const std::string> parts, std::string_view sep);

// Edit distance, used for "did you mean" hints.
int EditDistance(std::string_view a, std::string_view b);

// Returns the candidate closest to `word` when it is plausibly a typo of it.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        std::span<const std::string> candidates);

// Formats " (did you mean \"x\"?)" or "" when there is no close candidate.
std::string DidYouMean(std::string_view word, std::span<const std::string> candidates);

// Quotes a string for messages: printable ASCII kept, the rest escaped, long strings cut.
std::string Quote(std::string_view s);

// Appends code point `cp` encoded as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

// `s` with control characters escaped (\n, \x1b), for text from outside placed in a message.
std::string EscapeControl(std::string_view s);

// The length of the UTF-8 sequence that starts at s[i] (1 to 4), or 0 when the bytes there are
// not one (a stray or missing continuation byte, an overlong form, a surrogate, past U+10FFFF:
// what PostgreSQL and JSON refuse). REQUIRES: i < s.size().
size_t Utf8Length(std::string_view s, size_t i);

// True when `s` is valid UTF-8 without NUL bytes.
bool IsTextUtf8(std::string_view s);

// `s` with U+FFFD in place of each NUL byte and each byte not part of valid UTF-8.
std::string ReplaceNonText(std::string_view s);

// One second in microseconds, the unit of the engine's clock and of stored times.
inline constexpr int64_t kSecondUs = 1'000'000;

// Durations in the spec: "250ms", "30s", "5m", "1h30m", "2d", or a bare number of seconds.
// Returns milliseconds, or nullopt when the text is not a duration.
std::optional<int64_t> ParseDurationMs(std::string_view s);
std::string FormatDurationMs(int64_t ms);

// Quantities: "512Mi", "2G", "1.5", "500m" (milli). Returns the value in base units.
std::optional<double> ParseQuantity(std::string_view s);

// Lowercase hex of bytes.
std::string HexEncode(std::string_view bytes);

// Formats epoch milliseconds as RFC 3339 UTC ("2026-11-29T00:55:00.123Z").
std::string FormatTimestampMs(int64_t ms);

// Who acted, as the audit log and messages name it: "bob", or "bob (by root)" when the
// operating-system account `account` acts for the name `name`. ParseActor inverts it: {name,
// account} (the same twice for a plain name).
std::string ActorName(std::string_view name, std::string_view account);
std::pair<std::string, std::string> ParseActor(std::string_view actor);

// "*" and "?" globs, whole-string (policies' match, fault injection's task names).
bool GlobMatch(std::string_view pattern, std::string_view s);

}  // namespace sluice
