# shellcheck shell=bash
# Sourced by the shell tests that start a server process themselves (lakehost serve, the
# baseline server). `stop_and_check PID LOG WHAT` sends SIGTERM, waits for PID (a child of the
# calling shell) and fails (returns 1, printing why) when it did not exit 0 or when LOG holds a
# sanitizer report: in a build with -DLAKEHOST_SANITIZE (scripts/sanitize.sh) a report on one of
# the server's threads, or LeakSanitizer's at exit, would otherwise go unseen whenever the
# test's own requests happened to succeed.
sanitizer_report_pattern='ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: |: runtime error: |SUMMARY: UndefinedBehaviorSanitizer'

stop_and_check() {
  local pid="$1" log="$2" what="$3" rc=0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  if grep -qE "$sanitizer_report_pattern" "$log"; then
    echo "FAIL: sanitizer report in $what ($log):" >&2
    sed -nE "/$sanitizer_report_pattern/,\$p" "$log" | head -n 200 >&2
    return 1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $what exited $rc after SIGTERM" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}
