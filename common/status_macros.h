// Error propagation helpers used across medvault. absl::Status crosses module boundaries; these
// keep call sites short without exceptions.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define MV_CONCAT_INNER_(a, b) a##b
#define MV_CONCAT_(a, b) MV_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status mv_status_ = (expr);      \
    if (!mv_status_.ok()) return mv_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise assigns the value to `lhs` (which may be a declaration, e.g. `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  MV_ASSIGN_OR_RETURN_IMPL_(MV_CONCAT_(mv_statusor_, __LINE__), lhs, expr)
#define MV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

namespace medvault {

// Returns `status` with `context` prepended to its message ("context: message"), same code.
// Context must never contain PHI or key material.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), std::string(context) + ": " + std::string(status.message()));
}

}  // namespace medvault
