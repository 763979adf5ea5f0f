#!/usr/bin/env bash
# Starts the embedded default: a Celery worker and beat (on the settings' broker, by default the
# filesystem transport under var/broker, so no server is needed) in the background, then the web
# server in the foreground. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
PORT=${PORT:-8000}
VAR_DIR=${REVIEWTOOL_VAR_DIR:-var}
mkdir -p "$VAR_DIR/log"

pids=()
stop() {
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # The worker finishes its current task first (warm shutdown); after 20 s it is killed, which
  # is safe: tasks are acknowledged late, so an interrupted one is delivered again next start.
  for _ in $(seq 1 20); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

"$BIN/celery" -A reviewtool worker -l info --concurrency 1 --queues celery,embedding,media \
  >>"$VAR_DIR/log/worker.log" 2>&1 &
pids+=($!)
"$BIN/celery" -A reviewtool beat -l info --schedule "$VAR_DIR/celerybeat-schedule" \
  >>"$VAR_DIR/log/beat.log" 2>&1 &
pids+=($!)

cat <<MSG

  reviewtool is starting on http://127.0.0.1:${PORT}/
  Celery worker and beat log to ${VAR_DIR}/log/. Demo logins are printed above (load_demo).
  Ctrl-C stops the web server, the worker and beat.

MSG
"$BIN/python" manage.py runserver --noreload "127.0.0.1:${PORT}" &
pids+=($!)
wait "${pids[-1]}"
