#!/usr/bin/env bash
# Serve Certifai and a Celery worker on the embedded defaults; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT="${PORT:-8000}"

$BIN/celery -A certifai worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle &
worker=$!
$BIN/celery -A certifai beat --loglevel=WARNING --schedule .certifai/celerybeat-schedule &
beat=$!
$BIN/gunicorn certifai.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 --timeout 600 \
    --access-logfile - &
web=$!
trap 'kill $web $worker $beat 2>/dev/null; wait' INT TERM EXIT
echo
echo "Certifai is running at http://127.0.0.1:${PORT}/ (Ctrl-C stops it)"
wait -n $web $worker $beat
