// Reading a request's head (request line and headers) before Pistache parses it: the framing of
// the body that follows, a refusal when the body must not be read at all (too large, chunked,
// conflicting lengths), and the API key the request presents. Pure functions over the head's
// bytes, so the fuzzer and the unit tests call exactly what the server runs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api_keys.h"
#include "http/server.h"

namespace lakehost {

struct RequestHead {
  std::string method;  // from the request line; empty when it is malformed (Pistache refuses it)
  std::string path;    // the request target without its query
  size_t content_length = 0;
  bool expect_continue = false;
  std::optional<HttpResponse> refusal;  // answer this and read nothing more of the request
  Credential credential;                // Authorization: Bearer / X-API-Key
};

// `head`: everything up to and including the blank line that ends the headers.
RequestHead parse_request_head(std::string_view head, size_t max_body);

// At most `max_bytes` of `text` with every byte that is not printable ASCII shown as '?', for an
// error message: the JSON envelope must stay valid UTF-8, and a request line or header may
// carry any bytes (a Content-Length of bytes >= 0x80, or a header Pistache's parser quoted in
// its exception, made a 400 whose body was not JSON; found by the http_head fuzzer).
std::string printable(std::string_view text, size_t max_bytes);

// The answer to a request Pistache's parser refused with `why` (its exception's text).
HttpResponse malformed_request(int status, std::string_view why);

// Splits a path into its segments ("/a//b/" -> {"a", "b"}).
std::vector<std::string> split_path(std::string_view path);
// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> url_decode(std::string_view s);

}  // namespace lakehost
