#!/usr/bin/env bash
# Submit a job to jobqueue and wait until it has finished, with curl alone.
# JOBQUEUE_API_URL says where the API is, JOBQUEUE_TOKEN the token to send (if it wants one).
set -euo pipefail
api=${JOBQUEUE_API_URL:-http://127.0.0.1:8080}
auth=()
[[ -n ${JOBQUEUE_TOKEN:-} ]] && auth=(-H "Authorization: Bearer $JOBQUEUE_TOKEN")
key="example-$(date +%s%N)-$$"  # curl's retries send the same key: never two jobs

job=$(curl -sSf --retry 5 --retry-connrefused "${auth[@]}" -H "Idempotency-Key: $key" \
  -H 'Content-Type: application/json' -d '{"type": "echo", "payload": {"hello": "world"}}' \
  "$api/jobs")
id=$(grep -o '"id":"[^"]*"' <<<"$job" | head -n 1 | cut -d '"' -f 4)
echo "submitted $id"
until grep -Eq '"state":"(succeeded|dead|cancelled)"' <<<"$job"; do
  job=$(curl -sSf --retry 5 --retry-connrefused "${auth[@]}" "$api/jobs/$id?wait=30")
done
echo "$job"
grep -q '"state":"succeeded"' <<<"$job"
