/* A complete embed provider in plain C against plugin_api.h alone, exported as the natural C
 * entry function (not through BOOST_DLL_ALIAS): the loader must accept this form. Each text
 * becomes the unit vector of four counts (bytes, vowels, spaces, 1), so equal texts give equal
 * vectors and different lengths give different ones. */
#include <lakehost/plugin_api.h>

#include <math.h>

enum { kDimension = 4 };

static uint32_t dimension(void* self) {
  (void)self;
  return kDimension;
}

static lh_status embed(void* self, const lh_str* texts, size_t n, float* out, lh_error* err) {
  (void)self;
  (void)err;
  for (size_t i = 0; i < n; ++i) {
    float v[kDimension] = {0, 0, 0, 1};
    for (size_t j = 0; j < texts[i].size; ++j) {
      const char c = texts[i].data[j];
      v[0] += 1;
      if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') v[1] += 1;
      if (c == ' ') v[2] += 1;
    }
    float norm = 0;
    for (int d = 0; d < kDimension; ++d) norm += v[d] * v[d];
    norm = sqrtf(norm);
    for (int d = 0; d < kDimension; ++d) out[i * kDimension + d] = v[d] / norm;
  }
  return LH_OK;
}

static int instance; /* no state: every instance is this address */

static lh_status create(const lh_host_api* host, lh_str config_json, void** out_self,
                        lh_error* err) {
  (void)host;
  (void)config_json;
  (void)err;
  *out_self = &instance;
  return LH_OK;
}

static void destroy(void* self) { (void)self; }

static const lh_embed_provider_v1 table = {sizeof(lh_embed_provider_v1), dimension, embed};

static const lh_plugin_descriptor descriptor = {
    sizeof(lh_plugin_descriptor),
    LH_ABI_MAJOR,
    LH_ABI_MINOR,
    LH_KIND_EMBED_PROVIDER,
    LH_FLAG_THREAD_SAFE,
    "embed-c-entry",
    "1.0.0",
    "a plain C embedder with a C entry function",
    "{\"type\": \"object\", \"additionalProperties\": false}",
    "c",
    create,
    destroy,
    NULL,
    &table};

LH_PLUGIN_EXPORT const lh_plugin_descriptor* lakehost_plugin(void) { return &descriptor; }
