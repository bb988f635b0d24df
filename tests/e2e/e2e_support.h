// Helpers shared by the end-to-end suites (header-only: tests/CMakeLists.txt compiles only
// e2e/*_test.cpp). Everything talks to a real `lakehost serve` on 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "http_client.h"
#include "plugin_fixture.h"

namespace lakehost::e2e {

using test::HostOptions;
using test::HostProcess;
using test::HttpClient;
using test::HttpResult;
using Clock = std::chrono::steady_clock;

// Builds HostOptions: HostProcess host(Options().demo().args({"--max-body-bytes", "1024"})).
class Options {
 public:
  Options& demo() {
    o_.demo = true;
    return *this;
  }
  Options& watch() {
    o_.watch = true;
    return *this;
  }
  Options& manifests(std::string dir) {
    o_.manifests_dir = std::move(dir);
    return *this;
  }
  Options& env(std::string name, std::string value) {
    o_.env[std::move(name)] = std::move(value);
    return *this;
  }
  Options& args(std::vector<std::string> a) {
    o_.extra_args.insert(o_.extra_args.end(), a.begin(), a.end());
    return *this;
  }
  operator HostOptions() const { return o_; }

 private:
  HostOptions o_;
};

// ---- JSON ---------------------------------------------------------------------------------------

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return d;  // callers check HasParseError()
}

// A JSON string literal for `s` (quotes included).
inline std::string jstr(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

inline std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// Asserts status 2xx/any and a parseable JSON object body; returns the document.
inline ::testing::AssertionResult json_ok(const HttpResult& r, long status,
                                          rapidjson::Document* out = nullptr) {
  if (r.status != status)
    return ::testing::AssertionFailure() << "expected HTTP " << status << ", got " << r.status
                                         << " (" << r.error << ") body: " << r.body;
  auto d = parse_json(r.body);
  if (d.HasParseError() || !d.IsObject())
    return ::testing::AssertionFailure() << "body is not a JSON object: " << r.body;
  if (out) out->Swap(d);
  return ::testing::AssertionSuccess();
}

// Asserts the error envelope {"error": {"code", "message"}} with this status and code, and that
// the message contains `message_part` (e.g. the JSON pointer of the offending field).
inline ::testing::AssertionResult is_error(const HttpResult& r, long status,
                                           const std::string& code,
                                           const std::string& message_part = "") {
  if (r.status != status)
    return ::testing::AssertionFailure() << "expected HTTP " << status << ", got " << r.status
                                         << " (" << r.error << ") body: " << r.body;
  auto ct = r.headers.find("content-type");
  if (ct == r.headers.end() || ct->second.find("application/json") == std::string::npos)
    return ::testing::AssertionFailure() << "error is not application/json: " << r.body;
  auto d = parse_json(r.body);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("error") || !d["error"].IsObject())
    return ::testing::AssertionFailure() << "no {\"error\": {...}} envelope: " << r.body;
  const auto& e = d["error"];
  if (!e.HasMember("code") || !e["code"].IsString() || !e.HasMember("message") ||
      !e["message"].IsString() || e["message"].GetStringLength() == 0)
    return ::testing::AssertionFailure() << "envelope lacks code/message strings: " << r.body;
  if (code != e["code"].GetString())
    return ::testing::AssertionFailure() << "expected code " << code << ": " << r.body;
  if (!message_part.empty() &&
      std::string(e["message"].GetString()).find(message_part) == std::string::npos)
    return ::testing::AssertionFailure()
           << "message does not mention \"" << message_part << "\": " << r.body;
  return ::testing::AssertionSuccess();
}

// ---- host helpers -------------------------------------------------------------------------------

inline uint64_t generation(HttpClient& c, const HostProcess& h) {
  auto r = c.get(h.url("/health"));
  auto d = parse_json(r.body);
  if (r.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("generation")) return 0;
  return d["generation"].GetUint64();
}

inline std::string manifest_path(const HostProcess& h, const std::string& file) {
  return h.options().manifests_dir + "/" + file;
}

inline std::string embed_manifest(const std::string& id, int dimension, bool is_default) {
  return std::string("{\"id\": ") + jstr(id) +
         ", \"kind\": \"embed_provider\", \"library\": \"embed-hash.so\", \"enabled\": true, "
         "\"default\": " +
         (is_default ? "true" : "false") +
         ", \"config\": {\"dimension\": " + std::to_string(dimension) + "}}\n";
}

inline std::string faiss_manifest(const std::string& factory) {
  return "{\"id\": \"vector-faiss\", \"kind\": \"vector_backend\", \"library\": "
         "\"vector-faiss.so\", \"enabled\": true, \"default\": true, \"config\": {\"factory\": " +
         jstr(factory) + "}}\n";
}

// A vector backend manifest: `config` is the JSON text of its config object.
inline std::string vector_backend_manifest(const std::string& id, const std::string& library,
                                           bool is_default, const std::string& config) {
  return "{\"id\": " + jstr(id) + ", \"kind\": \"vector_backend\", \"library\": " + jstr(library) +
         ", \"enabled\": true, \"default\": " + (is_default ? "true" : "false") +
         ", \"config\": " + config + "}\n";
}

struct ManifestInfo {
  std::string file, id, kind;
  bool enabled = true;
};

// The manifests (*.json) of a directory, sorted by file name.
inline std::vector<ManifestInfo> read_manifests(const std::string& dir) {
  std::vector<ManifestInfo> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    auto d = parse_json(test::read_file(e.path().string()));
    if (d.HasParseError() || !d.IsObject()) continue;
    ManifestInfo m{e.path().filename().string(), d["id"].GetString(), d["kind"].GetString()};
    if (d.HasMember("enabled")) m.enabled = d["enabled"].GetBool();
    out.push_back(m);
  }
  std::sort(out.begin(), out.end(),
            [](const ManifestInfo& a, const ManifestInfo& b) { return a.file < b.file; });
  return out;
}

// A copy of the default manifests with every manifest of one kind ("retrieval_scorer",
// "storage_backend", ...) disabled.
inline std::string manifests_without_kind(const std::string& kind) {
  std::string dir = test::copy_default_manifests();
  for (const auto& m : read_manifests(dir)) {
    if (m.kind != kind) continue;
    std::string path = dir + "/" + m.file;
    auto d = parse_json(test::read_file(path));
    if (d.HasMember("enabled"))
      d["enabled"].SetBool(false);
    else
      d.AddMember("enabled", false, d.GetAllocator());
    test::write_file(path, to_json(d));
  }
  return dir;
}

// The value of one Prometheus sample, matched by its full series text
// (`name{label="v",...}`); nullopt when the series is absent.
inline std::optional<double> metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// The lakehost child started by this test process for `h` (HostProcess does not expose its
// pid): the process whose parent is us and whose command line names h's data directory.
inline pid_t host_pid(const HostProcess& h) {
  DIR* proc = opendir("/proc");
  if (!proc) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string stat = test::read_file("/proc/" + std::string(e->d_name) + "/stat");
    auto rp = stat.rfind(')');
    if (rp == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(stat.c_str() + rp + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
      continue;
    std::string cmdline = test::read_file("/proc/" + std::string(e->d_name) + "/cmdline");
    std::vector<std::string> argv;
    std::string cur;
    for (char c : cmdline) {
      if (c == '\0') {
        argv.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--data" && argv[i + 1] == h.options().data_dir) found = pid;
    }
  }
  closedir(proc);
  return found;
}

// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  // A wait for something to happen, not a bound under test: stretched for sanitized hosts.
  auto deadline = Clock::now() + timeout * test::time_scale();
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// ---- documents ----------------------------------------------------------------------------------

struct Doc {
  std::string id, text, metadata_json;
};

inline std::string documents_body(const std::vector<Doc>& docs) {
  std::string s = "{\"documents\": [";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i) s += ", ";
    s += "{\"id\": " + jstr(docs[i].id) + ", \"text\": " + jstr(docs[i].text);
    if (!docs[i].metadata_json.empty()) s += ", \"metadata\": " + docs[i].metadata_json;
    s += "}";
  }
  return s + "]}";
}

// The ids of a search response, in order.
inline std::vector<std::string> result_ids(const rapidjson::Document& d) {
  std::vector<std::string> ids;
  for (const auto& r : d["results"].GetArray()) ids.push_back(r["id"].GetString());
  return ids;
}

// ---- raw sockets (for connection-level behaviour curl hides) ------------------------------------

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }

  bool send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  enum class Read { data, closed, timeout };

  // Waits up to `timeout` for bytes; appends them to buffer(). ECONNRESET counts as closed.
  Read read_some(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0) return Read::timeout;
    char buf[65536];
    ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) return Read::closed;
    buffer_.append(buf, static_cast<size_t>(got));
    return Read::data;
  }

  // Reads one complete response (headers + Content-Length body) off the buffer. Returns the raw
  // response text, or nullopt if the connection closed or `timeout` passed first.
  std::optional<std::string> read_response(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        std::string head = lower(buffer_.substr(0, end));
        auto cl = head.find("\ncontent-length:");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
        if (buffer_.size() >= end + 4 + length) {
          std::string resp = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, end + 4 + length);
          return resp;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (read_some(left) != Read::data) return std::nullopt;
    }
  }

  // Waits until the server closes the connection (any further bytes are kept in buffer()).
  // Returns the time it took, or nullopt if it was still open after `timeout`.
  std::optional<std::chrono::milliseconds> wait_closed(std::chrono::milliseconds timeout) {
    auto start = Clock::now();
    auto deadline = start + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (read_some(left) == Read::closed)
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
  }

  const std::string& buffer() const { return buffer_; }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

inline int status_of(const std::string& response) {
  // "HTTP/1.1 200 OK"
  auto sp = response.find(' ');
  return sp == std::string::npos ? 0 : std::atoi(response.c_str() + sp + 1);
}

}  // namespace lakehost::e2e
