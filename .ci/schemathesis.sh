#!/usr/bin/env bash
# schemathesis against the JSON API on a live server: a fresh SQLite database with the
# canonical content and the demo accounts, checked anonymously and with a government token.
# Usage: .ci/schemathesis.sh            (MAX_EXAMPLES=25 by default; exits non-zero on failure)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${VENV:-.venv}/bin"
MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
WORK="$(mktemp -d)"
SERVER_PID=""
DEMO_FILE="instance/demo-accounts.json"

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  # `flask demo accounts` records the accounts in instance/: put the developer's file back.
  if [ -f "$WORK/demo-accounts.json.saved" ]; then mv "$WORK/demo-accounts.json.saved" "$DEMO_FILE"
  else rm -f "$DEMO_FILE"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ -f "$DEMO_FILE" ]; then cp -p "$DEMO_FILE" "$WORK/demo-accounts.json.saved"; fi

export DATABASE_URL="sqlite:///$WORK/portal.sqlite3"
export SEARCH_INDEX_DIR="$WORK/search-index" FILES_DIR="$WORK/files" MAIL_OUTBOX_DIR="$WORK/outbox"
export SECRET_KEY="schemathesis-$(date +%s)-$RANDOM"
export PORTAL_ENV="" FLASK_ENV=""
# Throttling stays on (429 is part of the contract) with room for a fuzzing run.
export API_RATE_LIMIT="100000 per minute"
FLASK="$BIN/flask --app app"

$FLASK db upgrade >/dev/null
$FLASK content load >/dev/null
$FLASK demo accounts >/dev/null
TOKEN="$($FLASK api token --email gov.fr@demo.echri.test --scopes "read write" --name schemathesis)"

PORT="$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
$FLASK run --host 127.0.0.1 --port "$PORT" --no-reload --no-debugger >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT/api/v1/openapi.json"

cat >"$WORK/schemathesis.toml" <<'TOML'
[generation]
# No text may hold a NUL character (the portal refuses them with a 400).
allow-x00 = false

[checks.positive_data_acceptance]
# Well-formed requests the rules refuse: 412 (If-Match names an older version) and 422
# (field combinations the schema cannot express, e.g. a review needs an assessment).
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "422", "429"]

[checks.missing_required_header]
# A missing If-Match is 428 Precondition Required (RFC 6585).
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
TOML

run() {
  "$BIN/schemathesis" --config-file "$WORK/schemathesis.toml" run "$URL" \
    --checks all --max-examples "$MAX_EXAMPLES" --wait-for-schema 30 --seed 8 \
    --report junit --report-dir "${SCHEMATHESIS_REPORT_DIR:-$WORK/reports}" "$@"
}

status=0
echo "== schemathesis: anonymous"
run || status=1
echo "== schemathesis: government token (read write)"
run -H "Authorization: Bearer $TOKEN" || status=1
if [ "$status" -ne 0 ]; then
  echo "== server log (last 50 lines)"; tail -n 50 "$WORK/server.log"
fi
exit "$status"
