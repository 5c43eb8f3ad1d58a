// Errors as values. Every layer boundary returns Result<T> or Status; an
// Error carries a category (for callers that branch) and a one-line message
// (for the person reading it).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace nb {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something malformed
  kNotFound,         // the thing asked for does not exist
  kCorrupt,          // bytes on disk or from the wire failed verification
  kIo,               // the operating system refused (permissions, disk full, ...)
  kCrypto,           // decryption or key handling failed
  kUnsupported,      // a format or feature we do not understand
  kCancelled,        // the user or a signal stopped the work
  kInternal,         // a bug: an invariant did not hold
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  // Returns this error with `context: ` put before its message.
  Error WithContext(const std::string& context) const {
    return Error{code, context + ": " + message};
  }
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

}  // namespace nb

// Propagates an error from an expression returning Status or Result<T>.
#define NB_CONCAT_INNER(a, b) a##b
#define NB_CONCAT(a, b) NB_CONCAT_INNER(a, b)

#define NB_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    auto nb_status_ = (expr);                     \
    if (!nb_status_.ok()) return nb_status_.error(); \
  } while (0)

#define NB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.error();             \
  lhs = std::move(tmp).value()

#define NB_ASSIGN_OR_RETURN(lhs, expr) \
  NB_ASSIGN_OR_RETURN_IMPL(NB_CONCAT(nb_result_, __LINE__), lhs, expr)
