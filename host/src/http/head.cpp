#include "http/head.h"

#include <algorithm>
#include <cctype>

namespace lakehost {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ASCII case-insensitive equality, without building a lower-cased copy (runs per header line).
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "METHOD SP target SP version": fills method and path when the line has that shape.
void read_request_line(std::string_view line, RequestHead& h) {
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return;
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  h.method = std::string(line.substr(0, sp1));
  h.path = std::string(target);
}

}  // namespace

std::string printable(std::string_view text, size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return out;
}

HttpResponse malformed_request(int status, std::string_view why) {
  return HttpServer::error(status, status == 413 ? "body_too_large" : "bad_request",
                           "malformed HTTP request: " + printable(why, 200));
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::string> url_decode(std::string_view s) {
  auto hex = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c))
               ? c - '0'
               : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
        return std::nullopt;
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

RequestHead parse_request_head(std::string_view head, size_t max_body) {
  RequestHead f;
  std::optional<std::string> length;
  bool transfer_encoding = false, chunked = false;
  std::optional<std::string> authorization, api_key;
  bool repeated_key = false;
  size_t pos = head.find("\r\n");
  read_request_line(head.substr(0, pos), f);
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(start, end - start);
    pos = end;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      // Two different lengths are a request-smuggling attempt; one repeated is harmless.
      if (length && *length != value) {
        f.refusal = HttpServer::error(400, "bad_request", "conflicting Content-Length headers");
        return f;
      }
      length = std::string(value);
    } else if (iequals(name, "transfer-encoding")) {
      transfer_encoding = true;
      chunked = chunked || lower(value).find("chunked") != std::string::npos;
    } else if (iequals(name, "expect")) {
      f.expect_continue = iequals(value, "100-continue");
    } else if (iequals(name, "authorization")) {
      repeated_key = repeated_key || authorization.has_value();
      authorization = std::string(value);
    } else if (iequals(name, "x-api-key")) {
      repeated_key = repeated_key || api_key.has_value();
      api_key = std::string(value);
    }
  }
  f.credential = credential_from_headers(authorization ? &*authorization : nullptr,
                                         api_key ? &*api_key : nullptr, repeated_key);
  if (transfer_encoding) {
    // Pistache 0.0.5's chunk decoder trusts each chunk's size (it reserves what a client
    // announces) and the whole body would have to be read before its size is known: refuse.
    f.refusal =
        chunked ? HttpServer::error(411, "length_required",
                                    "chunked request bodies are not accepted: send the body with "
                                    "a Content-Length (at most " +
                                        std::to_string(max_body) + " bytes)")
                : HttpServer::error(501, "not_implemented",
                                    "Transfer-Encoding is not supported: send a Content-Length");
    return f;
  }
  if (length) {
    if (length->empty() || length->size() > 19 ||
        length->find_first_not_of("0123456789") != std::string::npos) {
      f.refusal = HttpServer::error(400, "bad_request",
                                    "malformed Content-Length: " + printable(*length, 40));
      return f;
    }
    f.content_length = std::stoull(*length);
    if (f.content_length > max_body) {
      f.refusal = HttpServer::error(
          413, "body_too_large",
          "the request body is " + *length + " bytes; the limit is " + std::to_string(max_body));
    }
  }
  return f;
}

}  // namespace lakehost
