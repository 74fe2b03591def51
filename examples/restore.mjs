// Restores Contoso Production's latest backup into Contoso Test, end to end,
// against `make run`, as a Node automation would: the five wizard steps over
// HTTP (fetch), then the execution followed live over the websocket
// (restoreRunEvents, graphql-transport-ws spoken directly: no dependencies).
//
//   node --experimental-websocket examples/restore.mjs     (Node 20.10+; 22+ needs no flag)
//   RESTORED_URL=http://127.0.0.1:9090 RESTORED_TOKEN=rst_… node --experimental-websocket examples/restore.mjs
//
// Exits 0 when the run COMPLETED, 2 PARTIAL, 3 FAILED, 4 CANCELLED, 1 on any
// refused step.
const url = process.env.RESTORED_URL ?? 'http://localhost:8080';
const token = process.env.RESTORED_TOKEN ?? 'rst_dev_owner_token';
const source = process.env.SOURCE_ENV ?? 'Contoso Production';
const target = process.env.TARGET_ENV ?? 'Contoso Test';

// gql sends one operation and returns its data; refusals throw with their code.
async function gql(query, variables = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new Error(`${e.extensions?.code ?? res.status}: ${e.message}`);
  }
  return body.data;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls the run until field (checkedAt, previewedAt) is set.
async function waitFor(id, field) {
  for (let i = 0; i < 600; i++) {
    const { restoreRun } = await gql(`query($id: ID!) { restoreRun(id: $id) { ${field} } }`, { id });
    if (restoreRun[field]) return;
    await sleep(500);
  }
  throw new Error(`${field} never came`);
}

// follow subscribes to the run's events and resolves with its final status.
function follow(id) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
    ws.onclose = (e) => reject(new Error(`socket closed: ${e.code} ${e.reason}`));
    ws.onmessage = ({ data }) => {
      const m = JSON.parse(data);
      if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({
          id: '1', type: 'subscribe', payload: {
            query: `subscription($id: ID!) { restoreRunEvents(runId: $id) { sequence status
              item { displayName status errorCode errorMessage } counts { SUCCEEDED FAILED SKIPPED total } } }`,
            variables: { id },
          },
        }));
      }
      if (m.type === 'error') reject(new Error(m.payload?.[0]?.message ?? 'subscription refused'));
      if (m.type !== 'next') return;
      const ev = m.payload.data.restoreRunEvents;
      if (ev.item?.status === 'FAILED') console.log(`  failed: ${ev.item.displayName}: ${ev.item.errorCode} ${ev.item.errorMessage}`);
      if (ev.counts) {
        const c = ev.counts;
        process.stdout.write(`\r${ev.status} ${c.SUCCEEDED + c.FAILED + c.SKIPPED}/${c.total} ok ${c.SUCCEEDED} failed ${c.FAILED} skipped ${c.SKIPPED}   `);
      }
      if (['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'].includes(ev.status)) {
        ws.onclose = null;
        ws.close();
        process.stdout.write('\n');
        resolve(ev.status);
      }
    };
  });
}

const { viewer } = await gql('{ viewer { workspace { id } } }');
const { environments } = await gql('query($ws: ID!) { environments(workspaceId: $ws) { edges { node { id displayName } } } }', { ws: viewer.workspace.id });
const env = (name) => environments.edges.find((e) => e.node.displayName === name).node.id;
const { backupSets } = await gql('query($env: ID!) { backupSets(environmentId: $env, first: 50) { edges { node { id status origin } } } }', { env: env(source) });
const set = backupSets.edges.map((e) => e.node).find((s) => s.status === 'READY' && s.origin !== 'PRE_RESTORE');
console.log(`restoring backup set ${set.id} of ${source} into ${target}`);

// 1. A draft run.
const { createRestoreRun: run } = await gql(
  'mutation($env: ID!, $set: ID!) { createRestoreRun(input: {environmentId: $env, backupSetId: $set}) { id tenantLabel } }',
  { env: env(target), set: set.id });
const id = run.id;
console.log(`run ${id}`);

// 2. Scope, then the suggested mappings.
const scope = (extra = {}) => gql(`mutation($in: DefineRestoreScopeInput!) { defineRestoreScope(input: $in) { status } }`,
  { in: { runId: id, mode: 'ALL', createMissing: true, ...extra } });
await scope();
const { restoreMappingSuggestions: sugg } = await gql(
  'query($id: ID!) { restoreMappingSuggestions(runId: $id) { kind sourceId inScope suggested { id } } }', { id });
const maps = (kind) => sugg.filter((s) => s.kind === kind && s.suggested && !s.inScope).map((s) => ({ sourceId: s.sourceId, targetId: s.suggested.id }));
await scope({ groupMapping: maps('GROUP'), scopeTagMapping: maps('SCOPE_TAG'), filterMapping: maps('ASSIGNMENT_FILTER') });
console.log(`mapped ${maps('GROUP').length + maps('SCOPE_TAG').length + maps('ASSIGNMENT_FILTER').length} references by name`);

// 3. Checks, 4. preview.
await gql('mutation($id: ID!) { runRestoreChecks(input: {runId: $id}) { id } }', { id });
await waitFor(id, 'checkedAt');
await gql('mutation($id: ID!) { generateRestorePreview(input: {runId: $id}) { id } }', { id });
await waitFor(id, 'previewedAt');
const { restoreRun: previewed } = await gql('query($id: ID!) { restoreRun(id: $id) { checkSummary { blocking } previewSummary { message } } }', { id });
console.log(`checks: ${previewed.checkSummary.blocking} blocking; preview: ${previewed.previewSummary.message}`);

// 5. Confirm by typing the target's name, execute, follow.
await gql('mutation($id: ID!, $label: String!) { confirmRestoreRun(input: {runId: $id, dryRun: false, acknowledged: true, tenantConfirmation: $label}) { status } }',
  { id, label: run.tenantLabel });
const live = follow(id); // subscribe first: the replay covers any event before the socket is up
await gql('mutation($id: ID!, $key: String!) { executeRestoreRun(input: {runId: $id, idempotencyKey: $key}) { status } }', { id, key: `example-${id}` });
const status = await live;
const { restoreRun: done } = await gql('query($id: ID!) { restoreRun(id: $id) { proof { outcome reasons } preRestoreBackupSetId } }', { id });
console.log(`run ${status}, proof ${done.proof.outcome}, ` + (done.preRestoreBackupSetId
  ? `undo with undoRestoreRun (pre-restore set ${done.preRestoreBackupSetId})`
  : 'it neither overwrote nor created anything: nothing to undo'));
process.exit({ COMPLETED: 0, PARTIAL: 2, FAILED: 3, CANCELLED: 4 }[status] ?? 1);
