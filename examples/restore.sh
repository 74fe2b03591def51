#!/usr/bin/env bash
# Restores Contoso Production's latest backup into Contoso Test, end to end,
# against `make run`, the way an automation script would: the five wizard
# steps through the GraphQL API (curl + jq), the suggested mappings applied,
# then the execution followed live with `restored run watch`, whose exit
# status says how the run ended.
#
#   examples/restore.sh            # against http://localhost:8080
#   RESTORED_URL=http://127.0.0.1:9090 RESTORED_TOKEN=rst_… examples/restore.sh
#
# Needs bash, curl, jq and the restored binary (RESTORED_BIN, default
# `go run ./cmd/restored`). Exits non-zero when any step is refused or the
# run does not end COMPLETED.
set -euo pipefail
URL=${RESTORED_URL:-http://localhost:8080}
TOKEN=${RESTORED_TOKEN:-rst_dev_owner_token}
SOURCE=${SOURCE_ENV:-Contoso Production}
TARGET=${TARGET_ENV:-Contoso Test}
read -r -a BIN <<<"${RESTORED_BIN:-go run ./cmd/restored}"

# gql QUERY [VARIABLES]: one request; prints .data, or the errors and fails.
gql() {
  local out
  out=$(curl -sS "$URL/graphql" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg q "$1" --argjson v "${2:-null}" '{query: $q, variables: $v}')")
  if [ "$(jq '.errors | length' <<<"$out")" != 0 ]; then
    jq -r '.errors[] | "error: \(.extensions.code // "?"): \(.message)"' <<<"$out" >&2
    return 1
  fi
  jq -c .data <<<"$out"
}

# wait_for RUN_ID FIELD: polls the run until its checks or preview is stored.
wait_for() {
  for _ in $(seq 600); do
    if [ "$(gql 'query($id: ID!) { restoreRun(id: $id) { checkedAt previewedAt } }' "{\"id\":\"$1\"}" |
      jq -r ".restoreRun.$2 != null")" = true ]; then return 0; fi
    sleep 0.5
  done
  echo "error: $2 never came" >&2
  return 1
}

ws=$(gql '{ viewer { workspace { id } } }' | jq -r .viewer.workspace.id)
envs=$(gql 'query($ws: ID!) { environments(workspaceId: $ws) { edges { node { id displayName } } } }' "{\"ws\":\"$ws\"}")
src=$(jq -r --arg n "$SOURCE" '.environments.edges[].node | select(.displayName == $n) | .id' <<<"$envs")
dst=$(jq -r --arg n "$TARGET" '.environments.edges[].node | select(.displayName == $n) | .id' <<<"$envs")
set_id=$(gql 'query($env: ID!) { backupSets(environmentId: $env, first: 50) { edges { node { id status origin } } } }' "{\"env\":\"$src\"}" |
  jq -r '[.backupSets.edges[].node | select(.status == "READY" and .origin != "PRE_RESTORE")][0].id')
echo "restoring backup set $set_id of $SOURCE into $TARGET"

# 1. A draft run.
run=$(gql 'mutation($env: ID!, $set: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $set}) { id tenantLabel } }' \
  "{\"env\":\"$dst\",\"set\":\"$set_id\"}")
id=$(jq -r .createRestoreRun.id <<<"$run")
label=$(jq -r .createRestoreRun.tenantLabel <<<"$run")
echo "run $id"

# 2. Scope: everything, creating what the target lacks; then every reference
#    mapped to the target object the server suggests by name.
gql 'mutation($id: ID!) { defineRestoreScope(input: {runId: $id, mode: ALL, createMissing: true}) { status } }' "{\"id\":\"$id\"}" >/dev/null
sugg=$(gql 'query($id: ID!) { restoreMappingSuggestions(runId: $id) { kind sourceId inScope suggested { id } } }' "{\"id\":\"$id\"}")
maps() { jq -c --arg k "$1" '[.restoreMappingSuggestions[] | select(.kind == $k and .suggested != null and (.inScope | not)) | {sourceId, targetId: .suggested.id}]' <<<"$sugg"; }
echo "mapping $(jq '[.restoreMappingSuggestions[] | select(.suggested != null and (.inScope | not))] | length' <<<"$sugg") references to the target's objects of the same name"
gql 'mutation($id: ID!, $g: [MappingInput!], $t: [MappingInput!], $f: [MappingInput!]) {
  defineRestoreScope(input: {runId: $id, mode: ALL, createMissing: true, groupMapping: $g, scopeTagMapping: $t, filterMapping: $f}) { status } }' \
  "{\"id\":\"$id\",\"g\":$(maps GROUP),\"t\":$(maps SCOPE_TAG),\"f\":$(maps ASSIGNMENT_FILTER)}" >/dev/null

# 3. Safety checks.
gql 'mutation($id: ID!) { runRestoreChecks(input: {runId: $id}) { id } }' "{\"id\":\"$id\"}" >/dev/null
wait_for "$id" checkedAt
gql 'query($id: ID!) { restoreRun(id: $id) { checkSummary { items blocking warning safe } } }' "{\"id\":\"$id\"}" |
  jq -r '.restoreRun.checkSummary | "checks: \(.items) items, \(.blocking) blocking, \(.warning) warnings, \(.safe) safe"'

# 4. Preview: what execution would write.
gql 'mutation($id: ID!) { generateRestorePreview(input: {runId: $id}) { id } }' "{\"id\":\"$id\"}" >/dev/null
wait_for "$id" previewedAt
gql 'query($id: ID!) { restoreRun(id: $id) { previewSummary { message } readiness { canProceedToConfirmation guidance } } }' "{\"id\":\"$id\"}" |
  jq -r '.restoreRun | "preview: \(.previewSummary.message)\nreadiness: \(.readiness.guidance)"'

# 5. Confirm (typing the target's name) and execute, then follow it live.
gql 'mutation($id: ID!, $label: String!) { confirmRestoreRun(input: {runId: $id, dryRun: false, acknowledged: true, tenantConfirmation: $label}) { status } }' \
  "{\"id\":\"$id\",\"label\":\"$label\"}" >/dev/null
gql 'mutation($id: ID!, $key: String!) { executeRestoreRun(input: {runId: $id, idempotencyKey: $key}) { status } }' \
  "{\"id\":\"$id\",\"key\":\"example-$id\"}" >/dev/null
echo "executing; following it live"
RESTORED_URL=$URL RESTORED_TOKEN=$TOKEN "${BIN[@]}" run watch "$id"
gql 'query($id: ID!) { restoreRun(id: $id) { status proof { outcome reasons } preRestoreBackupSetId } }' "{\"id\":\"$id\"}" |
  jq -r '.restoreRun | "run \(.status), proof \(.proof.outcome) \(.proof.reasons), " +
    (if .preRestoreBackupSetId then "undo with undoRestoreRun (pre-restore set \(.preRestoreBackupSetId))"
     else "it neither overwrote nor created anything: nothing to undo" end)'
