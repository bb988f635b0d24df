// The one error type of the host's own code, from plugin calls through core services to the
// routes: a kind in the spirit of lh_status, a stable snake_case code clients see in the error
// envelope, and a message that names what is wrong (the field, the plugin, the collection).
// Nothing below the http layer knows HTTP: http/errors.h maps each kind to its status, in one
// place.
#pragma once

#include <stdexcept>
#include <string>

namespace lakehost {

enum class Errc {
  bad_request,       // the request cannot be read (malformed JSON, a wrong type)
  unauthorized,      // no credential, or an unknown one
  forbidden,         // a known credential without the right
  not_found,         // the named collection, document, model, ... does not exist
  conflict,          // the operation conflicts with existing state
  too_large,         // the request exceeds a configured limit
  invalid_argument,  // well-formed but refused by validation (a plugin's INVALID_ARGUMENT too)
  unsupported,       // the plugin or configuration does not offer the operation
  internal,          // a bug or an unexpected failure
  bad_upstream,      // an upstream server answered something unusable
  unavailable,       // a dependency cannot serve now (storage, model server, loading); retry
};

class HostError : public std::runtime_error {
 public:
  HostError(Errc errc, std::string code, const std::string& message)
      : std::runtime_error(message), errc_(errc), code_(std::move(code)) {}
  Errc errc() const noexcept { return errc_; }
  const std::string& code() const noexcept { return code_; }

 private:
  Errc errc_;
  std::string code_;
};

inline HostError bad_request(const std::string& m) { return {Errc::bad_request, "bad_request", m}; }
inline HostError not_found(const std::string& code, const std::string& m) {
  return {Errc::not_found, code, m};
}
inline HostError unprocessable(const std::string& m) {
  return {Errc::invalid_argument, "validation_failed", m};
}
inline HostError conflict(const std::string& m) { return {Errc::conflict, "conflict", m}; }

}  // namespace lakehost
