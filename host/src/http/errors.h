// Errors as HTTP sees them: the status of each kind of HostError (common/error.h). The one place
// where a domain error becomes a status code; the envelope itself is written by the server
// (lakehost's {"error": {"code", "message"}}) or by openai_errors.h (OpenAI's shape).
#pragma once

#include "common/error.h"

namespace lakehost {

constexpr int http_status(Errc errc) {
  switch (errc) {
    case Errc::bad_request:
      return 400;
    case Errc::unauthorized:
      return 401;
    case Errc::forbidden:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
      return 409;
    case Errc::too_large:
      return 413;
    case Errc::invalid_argument:
      return 422;
    case Errc::unsupported:
      return 422;
    case Errc::internal:
      return 500;
    case Errc::bad_upstream:
      return 502;
    case Errc::unavailable:
      return 503;
  }
  return 500;
}

inline int http_status(const HostError& e) { return http_status(e.errc()); }

}  // namespace lakehost
