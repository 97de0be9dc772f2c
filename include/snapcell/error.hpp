#pragma once
// Failures as values: every fallible operation of the core and of its policies
// returns a Status or a Result<T> that names the operation, its target and the
// errno text, in the style of nsjail's "pivot_root(%s, %s): %s" messages.

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace snapcell {

struct Error {
  std::string operation;  // the literal call or step, e.g. "umount2" or "snapshot"
  std::string target;     // what it acted on, e.g. a path or a volume name
  int code = 0;           // errno value; 0 when the failure is not a syscall's
  std::string detail;     // extra words when errno alone does not explain it

  std::string message() const {
    // "umount2(/run/x)" names the call and its target; a step with no target
    // reads as itself ("--backend: unknown backend 'zfs'").
    std::string text = target.empty() ? operation : fmt::format("{}({})", operation, target);
    if (code != 0) text += fmt::format(": {}", std::strerror(code));
    if (!detail.empty()) text += fmt::format(": {}", detail);
    return text;
  }
};

inline Error errno_error(std::string operation, std::string target, int code = errno) {
  return Error{std::move(operation), std::move(target), code, {}};
}

inline Error logic_error(std::string operation, std::string target, std::string detail) {
  return Error{std::move(operation), std::move(target), 0, std::move(detail)};
}

// Thrown only where a value cannot be returned (constructors) or where a
// caller asked for the throwing form; carries the same Error.
class Failure : public std::runtime_error {
 public:
  explicit Failure(Error error) : std::runtime_error(error.message()), error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// Success, or the Error that stopped the operation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  static Status ok() { return {}; }
  bool is_ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return is_ok(); }
  const Error& error() const { return *error_; }
  int code() const noexcept { return error_ ? error_->code : 0; }
  void or_throw() const {
    if (error_) throw Failure(*error_);
  }

 private:
  std::optional<Error> error_;
};

// A value, or the Error that prevented it.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool is_ok() const noexcept { return std::holds_alternative<T>(state_); }
  explicit operator bool() const noexcept { return is_ok(); }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<Error>(state_); }
  int code() const noexcept { return is_ok() ? 0 : error().code; }
  Status status() const { return is_ok() ? Status{} : Status{error()}; }
  T or_throw() && {
    if (!is_ok()) throw Failure(error());
    return std::get<T>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

}  // namespace snapcell
