// lakehost-baseline-server: the bare-Pistache baseline of bench/run.sh. POST on any path: the body
// is parsed with RapidJSON (malformed → 400) and answered with a FIXED three-result JSON shaped and
// sized like lakehost's /v1/matrix/search reply (~1 KB). Same Pistache options and the same
// keep-alive workarounds as lakehost's host/src/http/server.cpp; nothing else.
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

using namespace Pistache;

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct Profile {
  const char* id;
  double distance;
  const char* text;
  const char* city;
  std::vector<const char*> certifications;
  const char* shift;
  int years;
};

// Three profiles from data/demo/workers.jsonl, as a "Forklift Operator" search returns them.
std::string make_fixed_reply() {
  const std::vector<Profile> profiles = {
      {"w0014",
       0.4449,
       "Forklift Operator with 1 year of experience in high-volume distribution centers, based in "
       "Louisville, KY. Well versed in turret trucks at height, reach trucks in narrow-aisle "
       "racking, and Crown and Raymond equipment. Has OSHA Forklift Certification on file and "
       "wants 1st shift (days).",
       "Louisville, KY",
       {"OSHA Forklift Certification"},
       "1st",
       1},
      {"w0005",
       0.4613,
       "Brings 19 years as a Forklift Operator in 3PL warehouses. Work history includes sit-down "
       "and stand-up forklifts as well as reach trucks in narrow-aisle racking. Commutes from "
       "Joliet, IL and wants 1st shift (days).",
       "Joliet, IL",
       {},
       "1st",
       19},
      {"w0022",
       0.4772,
       "Forklift Operator with 1 year in automotive parts warehouses. Skilled in turret trucks at "
       "height, Crown and Raymond equipment, and propane tank changes and battery swaps. Holds "
       "OSHA Forklift Certification and Reach Truck Certification, lives in Savannah, GA, and "
       "wants 2nd shift (swing). Interested in temp-to-hire.",
       "Savannah, GA",
       {"OSHA Forklift Certification", "Reach Truck Certification"},
       "2nd",
       1},
  };
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("results");
  w.StartArray();
  for (const auto& p : profiles) {
    w.StartObject();
    w.Key("id");
    w.String(p.id);
    w.Key("distance");
    w.Double(p.distance);
    w.Key("boosted");
    w.Bool(false);
    w.Key("injected");
    w.Bool(false);
    w.Key("text");
    w.String(p.text);
    w.Key("metadata");
    w.StartObject();
    w.Key("role");
    w.String("Forklift Operator");
    w.Key("city");
    w.String(p.city);
    w.Key("certifications");
    w.StartArray();
    for (const char* c : p.certifications) w.String(c);
    w.EndArray();
    w.Key("shift");
    w.String(p.shift);
    w.Key("years");
    w.Int(p.years);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("boosted");
  w.Int(0);
  w.Key("injected");
  w.Int(0);
  w.EndObject();
  return buf.GetString();
}

std::string error_body(const std::string& code, const std::string& message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.String(code);
  w.Key("message");
  w.String(message);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)
  explicit Handler(const std::string* reply) : reply_(reply) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter writer) override {
    Http::Code code = Http::Code::Ok;
    const std::string* body = reply_;
    std::string error;
    if (req.method() != Http::Method::Post) {
      code = Http::Code::Method_Not_Allowed;
      error = error_body("method_not_allowed", "only POST is served");
    } else {
      rapidjson::Document doc;
      doc.Parse(req.body().data(), req.body().size());
      if (doc.HasParseError()) {
        code = Http::Code::Bad_Request;
        error =
            error_body("malformed_json", std::string("the body is not JSON: ") +
                                             rapidjson::GetParseError_En(doc.GetParseError()) +
                                             " at offset " + std::to_string(doc.GetErrorOffset()));
      } else if (!doc.IsObject()) {
        code = Http::Code::Bad_Request;
        error = error_body("bad_request", "the body must be a JSON object");
      }
    }
    if (code != Http::Code::Ok) body = &error;

    // The keep-alive workaround of lakehost's http_server.cpp (Pistache 0.0.5 bug 1): keep the
    // connection unless the client asked to close (or spoke HTTP/1.0 without keep-alive).
    bool client_close = false;
    if (auto c = req.headers().tryGet<Http::Header::Connection>())
      client_close = c->control() == Http::ConnectionControl::Close;
    else
      client_close = req.version() == Http::Version::Http10;
    writer.headers().remove<Http::Header::Connection>();
    writer.headers().add<Http::Header::Connection>(
        client_close ? Http::ConnectionControl::Close : Http::ConnectionControl::KeepAlive);
    auto peer = writer.getPeer();
    auto sent = writer.send(code, *body, MIME(Application, Json));
    if (client_close && peer) {
      // Bug 2: after "Connection: Close" Pistache leaves the socket open; close it ourselves.
      sent.then([peer](ssize_t) { ::shutdown(peer->fd(), SHUT_RDWR); },
                [peer](std::exception_ptr) { ::shutdown(peer->fd(), SHUT_RDWR); });
    }
  }

  void onTimeout(const Http::Request&, Http::ResponseWriter writer) override {
    auto peer = writer.getPeer();
    writer.headers().add<Http::Header::Connection>(Http::ConnectionControl::Close);
    writer
        .send(Http::Code::Request_Timeout,
              error_body("request_timeout", "the request was not received in time"),
              MIME(Application, Json))
        .then(
            [peer](ssize_t) {
              if (peer) ::shutdown(peer->fd(), SHUT_RDWR);
            },
            [peer](std::exception_ptr) {
              if (peer) ::shutdown(peer->fd(), SHUT_RDWR);
            });
  }

 private:
  const std::string* reply_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "lakehost-baseline-server: bare Pistache + RapidJSON endpoint answering every POST with a "
      "fixed ~1 KB matrix-search-shaped reply (the benchmark baseline)"};
  std::string listen = "127.0.0.1:8081", port_file;
  int threads = 2;
  size_t max_body = 16u << 20;
  int64_t header_ms = 10000, body_ms = 30000, keepalive_ms = 60000;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--threads", threads, "HTTP worker threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port to this file once listening");
  app.add_option("--max-body-bytes", max_body, "Largest request body accepted")
      ->capture_default_str();
  app.add_option("--header-timeout-ms", header_ms, "Time allowed to receive request headers")
      ->capture_default_str();
  app.add_option("--body-timeout-ms", body_ms, "Time allowed to receive a request body")
      ->capture_default_str();
  app.add_option("--keepalive-timeout-ms", keepalive_ms, "Idle keep-alive connections close after")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "lakehost-baseline-server: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }
  int port_number = -1;
  try {
    port_number = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port_number < 0 || port_number > 65535) {
    std::cerr << "lakehost-baseline-server: bad port in --listen \"" << listen << "\"\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const std::string reply = make_fixed_reply();
  auto endpoint =
      std::make_shared<Http::Endpoint>(Address(listen.substr(0, colon), Port(port_number)));
  // The options lakehost's HttpServer::start() uses.
  auto opts = Http::Endpoint::options()
                  .threads(threads)
                  .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay)
                  .maxRequestSize(max_body + 64 * 1024)
                  .maxResponseSize(256u << 20)
                  .headerTimeout(std::chrono::milliseconds(header_ms))
                  .bodyTimeout(std::chrono::milliseconds(body_ms))
                  .keepaliveTimeout(std::chrono::milliseconds(keepalive_ms));
  try {
    endpoint->init(opts);
    endpoint->setHandler(Http::make_handler<Handler>(&reply));
    endpoint->serveThreaded();
  } catch (const std::exception& e) {
    std::cerr << "lakehost-baseline-server: cannot listen on " << listen << ": " << e.what()
              << "\n";
    return 1;
  }
  const auto port = static_cast<uint16_t>(endpoint->getPort());
  std::cerr << "lakehost-baseline-server: listening on http://" << listen.substr(0, colon) << ":"
            << port << " with " << threads << " threads; reply " << reply.size() << " bytes\n";
  if (!port_file.empty()) {
    std::error_code ec;
    std::ofstream(port_file + ".tmp") << port << "\n";
    std::filesystem::rename(port_file + ".tmp", port_file, ec);
    if (ec) {
      std::cerr << "lakehost-baseline-server: cannot write " << port_file << ": " << ec.message()
                << "\n";
      endpoint->shutdown();
      return 1;
    }
  }
  int sig = 0;
  sigwait(&signals, &sig);
  endpoint->shutdown();
  return 0;
}
