// Error values and Result<T>: how every expected failure travels in Sluice.
//
// An Error carries a code (what kind of failure, which decides the exit status) and a message a
// user can act on, already prefixed with FILE:LINE:COL where there is a location.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace sluice {

enum class ErrorCode {
  kInvalidInput,  // bad YAML, unknown keys, wrong types, cycles... (exit 2)
  kNotFound,      // a run, file or component that does not exist (exit 2)
  kIo,            // the file system or a process failed (exit 3)
  kStore,         // the store failed (exit 3)
  kInternal,      // a bug (exit 3)
  kCancelled,     // the user interrupted (exit 1)
  kConflict,      // e.g. the run is being executed by another process (exit 2)
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}

  // Returns a copy whose message is prefixed with `context: `.
  Error Wrap(std::string_view context) const {
    return Error(code, fmt::format("{}: {}", context, message));
  }
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

template <typename... Args>
std::unexpected<Error> Fail(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected(Error(code, fmt::format(f, std::forward<Args>(args)...)));
}

inline std::unexpected<Error> Fail(Error e) { return std::unexpected(std::move(e)); }

// Where a value came from in a source file (1-based line and column; 0 = unknown). The file
// name is shared, not copied: a large pipeline keeps millions of locations.
struct Location {
  std::shared_ptr<const std::string> file;
  int line = 0;
  int column = 0;

  Location() = default;
  Location(std::shared_ptr<const std::string> f, int l, int c) : file(std::move(f)), line(l), column(c) {}
  Location(const std::string& f, int l, int c)
      : file(std::make_shared<const std::string>(f)), line(l), column(c) {}

  std::string ToString() const {
    std::string name = file ? *file : std::string();
    if (line <= 0) return name;
    return fmt::format("{}:{}:{}", name, line, column);
  }
};

template <typename... Args>
std::unexpected<Error> FailAt(const Location& loc, fmt::format_string<Args...> f,
                              Args&&... args) {
  return std::unexpected(Error(ErrorCode::kInvalidInput,
                               fmt::format("{}: {}", loc.ToString(),
                                           fmt::format(f, std::forward<Args>(args)...))));
}

}  // namespace sluice

// Propagates an error: SLUICE_TRY(x, F()) declares `x` holding F()'s Result and returns its
// error from the enclosing function; SLUICE_TRY_STATUS(F()) does the same for a Status.
#define SLUICE_TRY(var, expr) \
  auto var = (expr);          \
  if (!var) return std::unexpected(var.error())
#define SLUICE_TRY_STATUS(expr) \
  if (auto _st = (expr); !_st) return std::unexpected(_st.error())
// SLUICE_TRY_ASSIGN(x, F()) assigns F()'s value to an existing `x`, or returns its error.
#define SLUICE_TRY_ASSIGN(lhs, expr)                         \
  do {                                                       \
    auto _r = (expr);                                        \
    if (!_r) return std::unexpected(_r.error());             \
    lhs = std::move(*_r);                                    \
  } while (0)
