// Follows a workspace's audit log live over graphql-transport-ws.
//
//   RESTORED_TOKEN=rst_dev_owner_token node subscribe.mjs
//
// RESTORED_URL defaults to ws://localhost:8080/graphql. The workspace is the
// token's own (read from `viewer`).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.RESTORED_URL ?? 'ws://localhost:8080/graphql';
const token = process.env.RESTORED_TOKEN ?? 'rst_dev_owner_token';

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  // 4403 (Forbidden) means the token was revoked, expired or its role
  // changed: retrying with it cannot help (graphql-ws retries it by default).
  shouldRetry: (e) => !(e && e.code === 4403),
});

// One query over the same socket to learn the workspace id.
const viewer = await new Promise((resolve, reject) => {
  let result;
  client.subscribe(
    { query: '{ viewer { workspace { id slug } } }' },
    { next: (r) => (result = r), error: reject, complete: () => resolve(result) },
  );
});
if (viewer.errors) throw new Error(JSON.stringify(viewer.errors));
const ws = viewer.data.viewer.workspace;
console.log(`following the audit log of workspace ${ws.slug} (${ws.id}); Ctrl-C to stop`);

const max = Number(process.env.MAX_EVENTS ?? Infinity);
let seen = 0;
client.subscribe(
  {
    query: `subscription($ws: ID!) {
      auditLogAdded(workspaceId: $ws) { createdAt actorLabel action objectType objectId }
    }`,
    variables: { ws: ws.id },
  },
  {
    next: (r) => {
      console.log(JSON.stringify(r.data?.auditLogAdded ?? r.errors));
      if (++seen >= max) client.dispose();
    },
    error: (e) => {
      // A closed socket arrives as a CloseEvent (code and reason).
      if (e && typeof e.code === 'number') console.error(`socket closed: ${e.code} ${e.reason}`);
      else console.error('subscription error:', e);
      process.exit(1);
    },
    complete: () => process.exit(0),
  },
);
