// Key/value storage over HTTP (/v1/storage): raw bytes round-trip, listing by prefix, deletion,
// durability, and isolation from the host's own records.
#include "e2e_support.h"

namespace lakehost::e2e {
namespace {

std::string binary_blob(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 256);  // includes NULs
  return s;
}

}  // namespace

TEST(Storage, BytesRoundTripAndSurviveAKill) {
  HostProcess host;
  HttpClient c;
  const std::string blob = binary_blob(70000);
  std::string url = host.url("/v1/storage/reports%2F2026%2Fq1.bin");
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.put(url, blob), 201, &d));
  EXPECT_EQ(std::string(d["key"].GetString()), "reports/2026/q1.bin");
  EXPECT_EQ(d["size"].GetUint64(), blob.size());
  ASSERT_TRUE(json_ok(c.put(url, blob), 200));  // replaced
  auto r = c.get(url);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(r.body, blob);
  host.kill9();  // acknowledged: durable
  host.start();
  url = host.url("/v1/storage/reports%2F2026%2Fq1.bin");  // a new port
  HttpClient c2;
  EXPECT_EQ(c2.get(url).body, blob);
  EXPECT_EQ(c2.del(url).status, 204);
  EXPECT_TRUE(is_error(c2.get(url), 404, "key_not_found"));
  EXPECT_TRUE(is_error(c2.del(url), 404, "key_not_found"));
}

TEST(Storage, ListsByPrefixWithoutTheHostsOwnRecords) {
  HostProcess host(Options().demo());
  HttpClient c;
  // A playbook record lives in the same key/value space, under the host's own prefix.
  ASSERT_EQ(c.post(host.url("/v1/matrix/playbooks/record"),
                   "{\"query\": \"Loader\", \"role\": \"Loader\", \"id\": \"w0001\", \"score\": 1}")
                .status,
            201);
  for (const char* k : {"a%2F1", "a%2F2", "b%2F1", "a%25x"})
    ASSERT_EQ(c.put(host.url(std::string("/v1/storage/") + k), "v").status, 201);
  rapidjson::Document d;
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/storage?prefix=a%2F")), 200, &d));
  ASSERT_EQ(d["keys"].Size(), 2u);
  EXPECT_EQ(std::string(d["keys"][0]["key"].GetString()), "a/1");
  EXPECT_EQ(std::string(d["keys"][1]["key"].GetString()), "a/2");
  EXPECT_FALSE(d["truncated"].GetBool());
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/storage")), 200, &d));
  EXPECT_EQ(d["keys"].Size(), 4u);  // no playbooks/... key
  ASSERT_TRUE(json_ok(c.get(host.url("/v1/storage?limit=1")), 200, &d));
  EXPECT_EQ(d["keys"].Size(), 1u);
  EXPECT_TRUE(d["truncated"].GetBool());
  EXPECT_TRUE(is_error(c.get(host.url("/v1/storage?limit=0")), 422, "validation_failed"));
  EXPECT_TRUE(is_error(c.get(host.url("/v1/storage/playbooks%2Fworkers")), 404, "key_not_found"));
  EXPECT_TRUE(is_error(c.put(host.url("/v1/storage/" + std::string(600, 'k')), "v"), 422,
                       "validation_failed"));
  EXPECT_TRUE(
      is_error(c.request("POST", host.url("/v1/storage/x"), "v", true), 405, "method_not_allowed"));
}

TEST(Storage, NoStorageBackendIs503) {
  HostProcess host(Options().manifests(manifests_without_kind("storage_backend")));
  HttpClient c;
  EXPECT_TRUE(is_error(c.put(host.url("/v1/storage/k"), "v"), 503, "no_storage_backend"));
}

}  // namespace lakehost::e2e
