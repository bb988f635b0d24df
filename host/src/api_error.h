// The one error type of the request path: an HTTP status, a snake_case code and a message that
// names the offending field. Handlers throw it; the HTTP layer turns it into the JSON envelope.
#pragma once

#include <stdexcept>
#include <string>

namespace lakehost {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }

 private:
  int status_;
  std::string code_;
};

inline ApiError bad_request(const std::string& m) { return {400, "bad_request", m}; }
inline ApiError not_found(const std::string& code, const std::string& m) { return {404, code, m}; }
inline ApiError unprocessable(const std::string& m) { return {422, "validation_failed", m}; }
inline ApiError conflict(const std::string& m) { return {409, "conflict", m}; }

}  // namespace lakehost
