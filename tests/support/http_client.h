// A blocking HTTP/1.1 client for tests (libcurl easy handle: one keep-alive connection per
// client object; use one per thread).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace lakehost::test {

struct HttpResult {
  long status = 0;  // 0: transport error (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string error;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult request(const std::string& method, const std::string& url,
                     const std::string& body = "", bool send_body = false);
  HttpResult get(const std::string& url) { return request("GET", url); }
  HttpResult post(const std::string& url, const std::string& body) {
    return request("POST", url, body, true);
  }
  HttpResult put(const std::string& url, const std::string& body) {
    return request("PUT", url, body, true);
  }
  HttpResult del(const std::string& url) { return request("DELETE", url); }
  long connections_opened() const { return connects_; }
  // Header lines ("Name: value") sent with every following request (e.g. an API key).
  void set_headers(std::vector<std::string> lines) { headers_ = std::move(lines); }

 private:
  void* curl_;
  long connects_ = 0;
  std::vector<std::string> headers_;
};

}  // namespace lakehost::test
