// Plugin calls that failed on the request path: logged at most once per plugin per 10 s (saying
// how many lines were held back) and counted per plugin and operation for /metrics, so an
// upstream that is down neither floods the log nor goes unseen.
#pragma once

#include <lakehost/plugin_api.h>

#include <string>

#include "plugin/loader.h"

namespace lakehost {

// Logs a failed call (LH_ERR_UNAVAILABLE and internal errors) and counts the unavailable ones.
void log_plugin_failure(const PluginInstance& p, const char* op, lh_status st,
                        const std::string& message);
// lakehost_upstream_unavailable_total{id,op}.
void render_plugin_failure_metrics(std::string& out);

}  // namespace lakehost
