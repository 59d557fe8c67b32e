// HTTP hardening: whatever a client sends, the server answers it correctly
// (or drops a connection that will not finish), keeps serving everyone else,
// and writes nothing to the ledger.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, testConfig, api, admin, rawConnection, rawExchange, fileDigest, sleep, KEYS, ADMIN_KEY } from './harness.mjs';

let server;
let journalBefore;

before(async () => {
  server = await startServer(
    testConfig({ http: { io_threads: 2, max_body_bytes: 65536, max_header_bytes: 8192, header_timeout_ms: 1000, body_timeout_ms: 1000, idle_timeout_ms: 3000, max_connections: 1100 } }),
  );
  journalBefore = fileDigest(server.journal);
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, `the server exits 0 on SIGTERM; stderr:\n${server.stderr}`);
  await server.dispose();
});

async function healthy() {
  const res = await fetch(`${server.url}/health`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'ok');
}

const create = (body, headers = {}) => api(server, '/v1/image_to_video', { method: 'POST', body, headers });
const good = { model: 'gen4_turbo', promptImage: 'https://example.com/a.jpg', ratio: '1280:720' };

test('malformed JSON is a 400 naming the problem', async () => {
  for (const body of ['{', '{"model": }', 'nul', '{"a":1}}', '\u0000{}', '[1,2', '"\\ud800"']) {
    const res = await create(body);
    assert.equal(res.status, 400, `body ${JSON.stringify(body)}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-should-retry'), 'false');
    const e = await res.json();
    assert.equal(e.code, 'invalid_json');
    assert.match(e.error, /not valid JSON/);
  }
  await healthy();
});

test('a repeated key is refused by its path', async () => {
  const res = await create('{"model":"gen4_turbo","ratio":"1280:720","ratio":"720:1280","promptImage":"https://x/y.jpg"}');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /ratio: repeated key/);
});

test('deeply nested JSON is answered, not a crash', async () => {
  for (const body of ['['.repeat(30000) + ']'.repeat(30000), '{"a":'.repeat(10000) + '1' + '}'.repeat(10000), '['.repeat(60000)]) {
    const res = await create(body);
    assert.equal(res.status, 400);
  }
  await healthy();
});

test('odd headers: a huge or odd key, a bad version, a bad Idempotency-Key', async () => {
  let res = await api(server, '/v1/organization', { key: 'k'.repeat(5000) });
  assert.equal(res.status, 401);
  res = await api(server, '/v1/organization', { headers: { Authorization: 'Basic a2V5OnNlY3JldA==' } });
  assert.equal(res.status, 401);
  res = await api(server, '/v1/organization', { headers: { 'X-Runway-Version': '' } });
  assert.equal(res.status, 400);
  res = await create(good, { 'Idempotency-Key': 'x'.repeat(49) });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, 'invalid_idempotency_key');
  await healthy();
});

test('invalid UTF-8 in a string is a 400', async () => {
  const bytes = Buffer.concat([Buffer.from('{"model":"gen4_turbo","promptText":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const res = await create(bytes);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, 'invalid_json');
});

test('wrong types are a 400 naming the field', async () => {
  const cases = [
    [[], '', /expected an object/],
    [{ ...good, model: 5 }, 'model', /expected a model id string/],
    [{ ...good, ratio: 1280 }, 'ratio', /expected one of/],
    [{ ...good, duration: '10' }, 'duration', /expected an integer from 2 to 10/],
    [{ ...good, duration: 5.5 }, 'duration', /must be an integer/],
    [{ ...good, promptImage: { uri: 'https://x' } }, 'promptImage', /URI string or an array/],
    [{ ...good, promptText: '' }, 'promptText', /must not be empty/],
    [{ ...good, seed: -1 }, 'seed', /integer from 0 to 4294967295/],
    [{ ...good, contentModeration: 'low' }, 'contentModeration', /expected an object/],
  ];
  for (const [body, field, message] of cases) {
    const res = await create(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const e = await res.json();
    assert.equal(e.code, 'invalid_input');
    assert.match(e.error, message);
    if (field) assert.ok(e.error.startsWith(`${field}: `), e.error);
  }
});

test('a declared body over the limit is a 413 before it is read', async () => {
  const reply = await rawExchange(
    server,
    `POST /v1/image_to_video HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.studio}\r\nX-Runway-Version: 2024-11-06\r\n` +
      `Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{`,
  );
  assert.match(reply, /^HTTP\/1.1 413 /);
  assert.match(reply, /larger than 65536 bytes/);
  await healthy();
});

test('a chunked body that grows over the limit is a 413', async () => {
  const c = rawConnection(server);
  await c.connected;
  c.socket.write(
    `POST /v1/image_to_video HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.studio}\r\nX-Runway-Version: 2024-11-06\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  const chunk = 'a'.repeat(16384);
  for (let i = 0; i < 8 && !c.socket.destroyed; ++i) c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  const reply = await c.closed;
  assert.match(reply, /^HTTP\/1.1 413 /);
  await healthy();
});

test('a huge body through fetch is refused and the server goes on', async () => {
  const res = await create('{"x":"' + 'y'.repeat(200_000) + '"}').catch((e) => e);
  if (res instanceof Response) assert.equal(res.status, 413);
  await healthy();
});

test('bodies in memory are bounded over all connections: past the budget a 503 to retry', async () => {
  const small = await startServer(testConfig({ http: { max_body_bytes: 65536, max_buffered_bytes: 100000, body_timeout_ms: 5000 } }));
  try {
    const head = `POST /v1/image_to_video HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.studio}\r\n` +
      `X-Runway-Version: 2024-11-06\r\nContent-Type: application/json\r\nContent-Length: 60000\r\nConnection: close\r\n\r\n`;
    const a = rawConnection(small);
    await a.connected;
    a.socket.write(head + '{"x":"');  // holds 60,000 bytes of the 100,000
    await sleep(200);
    const b = await rawExchange(small, head);
    assert.match(b, /^HTTP\/1.1 503 /);
    assert.match(b, /x-should-retry: true/i);
    a.socket.write('y'.repeat(60000 - 8) + '"}');
    assert.match(await a.closed, /^HTTP\/1.1 400 /);  // read in full and answered (not a valid create)
    const c = rawConnection(small);
    await c.connected;
    c.socket.write(head + '{"x":"' + 'y'.repeat(60000 - 8) + '"}');
    assert.match(await c.closed, /^HTTP\/1.1 400 /);  // the budget came back
    const metrics = await (await fetch(`${small.url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).text();
    assert.match(metrics, /^tollgate_http_bodies_refused_total 1$/m);
    assert.match(metrics, /^tollgate_http_buffered_bytes 0$/m);
  } finally {
    await small.dispose();
  }
});

test('a header over the limit is a 431', async () => {
  const reply = await rawExchange(server, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(10000)}\r\n\r\n`);
  assert.match(reply, /^HTTP\/1.1 431 /);
  await healthy();
});

test('garbage instead of HTTP is a 400 and a close', async () => {
  const reply = await rawExchange(server, 'HELLO THERE\r\n\r\n');
  assert.match(reply, /^HTTP\/1.1 400 /);
  await healthy();
});

test('a slow client is dropped at the header deadline, others are served meanwhile', async () => {
  const c = rawConnection(server);
  await c.connected;
  const started = Date.now();
  const header = `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(50)}\r\n\r\n`;
  let i = 0;
  const drip = setInterval(() => {
    if (!c.socket.destroyed && i < header.length) c.socket.write(header[i++]);
  }, 100);
  await healthy();  // served while the slow one drips
  await c.closed;
  clearInterval(drip);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3000, `dropped after ${took} ms (header_timeout_ms is 1000)`);
  assert.ok(i < header.length, 'dropped before the header was complete');
});

test('a slow body is dropped at the body deadline', async () => {
  const c = rawConnection(server);
  await c.connected;
  c.socket.write(
    `POST /v1/image_to_video HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEYS.studio}\r\nX-Runway-Version: 2024-11-06\r\n` +
      `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
  );
  const started = Date.now();
  await c.closed;
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3000, `dropped after ${took} ms (body_timeout_ms is 1000)`);
});

test('an idle keep-alive connection is closed at the idle deadline', async () => {
  const c = rawConnection(server);
  await c.connected;
  c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const started = Date.now();
  const reply = await c.closed;
  assert.match(reply, /^HTTP\/1.1 200 /);
  const took = Date.now() - started;
  assert.ok(took >= 2900 && took < 6000, `closed after ${took} ms (idle_timeout_ms is 3000)`);
});

test('1,000 idle connections: the server still serves, and past max_connections it answers 503', async () => {
  const idle = [];
  for (let i = 0; i < 1000; ++i) idle.push(rawConnection(server));
  await Promise.all(idle.map((c) => c.connected));
  await sleep(200);
  const metrics = await (await admin(server, '/metrics')).text();
  const open = Number(metrics.match(/^tollgate_http_connections_open (\d+)$/m)[1]);
  assert.ok(open >= 1000, `open connections: ${open}`);
  await healthy();
  const res = await create(good);
  assert.notEqual(res.status, 503);
  // 1,100 at most: fill up, then one more is refused with a 503.
  const more = [];
  for (let i = 0; i < 120; ++i) more.push(rawConnection(server));
  await Promise.all(more.map((c) => c.connected));
  const refused = await Promise.race([
    Promise.any(more.map((c) => c.closed.then((r) => (r.startsWith('HTTP/1.1 503') ? r : Promise.reject(new Error(r)))))),
    sleep(3000).then(() => ''),
  ]);
  assert.match(refused, /^HTTP\/1.1 503 .*\r\n[\s\S]*too many connections/);
  for (const c of [...idle, ...more]) c.socket.destroy();
  await sleep(300);
  await healthy();
});

test('unknown paths are 404, wrong methods 405 with Allow', async () => {
  for (const p of ['/', '/v1', '/v1/nope', '/v1/tasks', '/v2/organization', '/admin', '/admin/accounts/studio/nope', '/%zz', '/v1/tasks/a/b']) {
    const res = await api(server, p);
    assert.ok([404, 400].includes(res.status), `${p}: ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'application/json');
  }
  const cases = [
    ['GET', '/v1/image_to_video', 'POST'],
    ['PUT', '/v1/tasks/abc', 'GET, DELETE'],
    ['POST', '/v1/organization', 'GET'],
    ['GET', '/v1/organization/usage', 'POST'],
    ['DELETE', '/health', 'GET'],
    ['PATCH', '/admin/accounts/studio/purchase', 'POST'],
  ];
  for (const [method, p, allow] of cases) {
    const res = await api(server, p, { method });
    assert.equal(res.status, 405, `${method} ${p}`);
    assert.equal(res.headers.get('allow'), allow);
  }
  const reply = await rawExchange(server, 'BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(reply, /^HTTP\/1.1 (400|405) /);
  await healthy();
});

test('a body that is not JSON is a 415', async () => {
  const res = await api(server, '/v1/image_to_video', { method: 'POST', body: 'model=gen4_turbo', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(res.status, 415);
});

test('pipelined requests are answered in order', async () => {
  const reply = await rawExchange(
    server,
    'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const statuses = [...reply.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '404', '200']);
});

test('the log has one line per request and never a key', async () => {
  const lines = server.stderr.split('\n').filter((l) => / (GET|POST|PUT|PATCH|DELETE) /.test(l));
  assert.ok(lines.length > 50, `${lines.length} request lines`);
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ \S+ \d{3} \d+\.\d{3}ms account=\S+$/);
  for (const secret of [...Object.values(KEYS), ADMIN_KEY, 'Bearer']) assert.ok(!server.stderr.includes(secret), `the log holds '${secret}'`);
});

test('nothing above wrote to the ledger', async () => {
  assert.equal(fileDigest(server.journal), journalBefore);
  const account = await (await admin(server, '/admin/accounts/studio')).json();
  assert.equal(account.creditBalance, 0);
  assert.equal(account.heldCredits, 0);
});
