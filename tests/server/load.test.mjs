// Load and crash: 64 keep-alive connections for TOLLGATE_LOAD_SECONDS (20 by
// default) against a server on the real clock with short generations and a
// share of failures, over 64 accounts (half with their daily caps lifted by
// an override, half with caps of 5 they meet): creates (a quarter with an
// Idempotency-Key, some of them retried), task reads, cancels, organization
// reads. Then SIGKILL while the load still runs, `tollgate-ledger verify` on
// the journal, a restart, and every acknowledged create is either a task the
// server still knows or, in the ledger, a hold that was captured (the task
// completed before the crash) or released (refunded): none is still held
// and none is missing. Requests are bounded in time and count; everything
// goes to 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startServer, testConfig, admin, purchase, ADMIN_KEY, VERSION, serverBinary } from './harness.mjs';

const SECONDS = Number(process.env.TOLLGATE_LOAD_SECONDS ?? 20);
const CONNECTIONS = 64;
const ACCOUNTS = 64;
const MAX_REQUESTS = 2_000_000;
const ledgerTool = process.env.TOLLGATE_LEDGER ?? path.resolve(path.dirname(serverBinary), '../ledger/tollgate-ledger');

const accounts = Array.from({ length: ACCOUNTS }, (_, i) => ({ name: `load-${i}`, key: `key_load_${String(i).padStart(4, '0')}_0123456789abcdef` }));

// A small deterministic generator (mulberry32): the same run on every machine.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The creates of the load: cheap models of each kind.
const creates = [
  ['/v1/text_to_image', { model: 'gen4_image_turbo', promptText: 'a cat', ratio: '1024:1024', referenceImages: [{ uri: 'https://example.com/a.jpg', tag: 'cat' }] }, 2],
  ['/v1/text_to_image', { model: 'gemini_2.5_flash', promptText: 'a dog', ratio: '1344:768' }, 5],
  ['/v1/text_to_speech', { model: 'eleven_multilingual_v2', promptText: 'hello there', voice: { type: 'runway-preset', presetId: 'Maya' } }, 1],
  ['/v1/image_to_video', { model: 'gen4_turbo', promptImage: 'https://example.com/a.jpg', ratio: '1280:720', duration: 2 }, 10],
];

function request(agent, port, method, pathname, key, body, extra = {}) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = { Authorization: `Bearer ${key}`, 'X-Runway-Version': VERSION, ...extra };
    if (data !== undefined) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    const started = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, ns: Number(process.hrtime.bigint() - started) }));
      res.on('error', () => resolve({ status: 0, text: '', ns: 0 }));
    });
    req.on('error', () => resolve({ status: 0, text: '', ns: 0 }));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

test(`load (${CONNECTIONS} connections, ${SECONDS} s, ${ACCOUNTS} accounts), SIGKILL, verify, restart: no acknowledged create lost`, { timeout: (SECONDS + 240) * 1000 }, async (t) => {
  assert.ok(existsSync(ledgerTool), `no tollgate-ledger at ${ledgerTool}; build it or set TOLLGATE_LEDGER`);
  const config = testConfig({
    api_keys: accounts.map(({ name, key }) => ({ key, account: name })),
    http: { log_requests: false, idle_timeout_ms: 60_000, max_connections: 1024 },
    workers: 64,
    simulation: { clock: 'system', pickup_ms: 10, generation_ms: { default: 50, gen4_turbo: 200 }, failure_rate: '0.1', seed: 7 },
  });
  delete config.simulation.start;
  const server = await startServer(config);
  const acknowledged = new Map();  // id -> { account, credits, status (last seen) }
  let killed = false;
  try {
    // Each account buys $100 (10,000 credits); by an override, the even ones
    // lift their daily caps and run 4 tasks of a model at once, the odd ones
    // may create 5 tasks of a model a day (and meet that cap: 429).
    for (const [i, { name }] of accounts.entries()) {
      await purchase(server, name, '100.00', `load-${name}`);
      const limits = i % 2 === 0 ? { maxConcurrentGenerations: 4, maxDailyGenerations: null } : { maxConcurrentGenerations: 1, maxDailyGenerations: 5 };
      const models = Object.fromEntries(creates.map(([, b]) => [b.model, limits]));
      const res = await admin(server, `/admin/accounts/${name}/override`, { method: 'PUT', body: { models } });
      assert.equal(res.status, 200);
    }

    const byAccount = accounts.map(() => []);
    const deleted = new Set();  // ids a DELETE was sent for
    const counts = new Map();
    const latencies = [];
    let requests = 0;
    let retriesSame = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const deadline = Date.now() + SECONDS * 1000;
    const count = (what, status) => counts.set(`${what} ${status}`, (counts.get(`${what} ${status}`) ?? 0) + 1);

    const loop = async (c) => {
      const rnd = random(1000 + c);
      let keyed = 0;
      while (Date.now() < deadline && requests < MAX_REQUESTS && !killed) {
        const a = Math.floor(rnd() * ACCOUNTS);
        const { name, key } = accounts[a];
        const roll = rnd();
        let r;
        if (roll < 0.5 || byAccount[a].length === 0) {
          const [endpoint, body, credits] = creates[Math.floor(rnd() * creates.length)];
          const headers = {};
          let retry = null;
          if (rnd() < 0.25) headers['Idempotency-Key'] = `c${c}-${keyed++}`;
          r = await request(agent, server.port, 'POST', endpoint, key, body, headers);
          count('create', r.status);
          if (r.status === 200) {
            const created = JSON.parse(r.text);
            assert.equal(created.estimatedCost.credits, credits);
            if (!acknowledged.has(created.id)) byAccount[a].push(created.id);
            acknowledged.set(created.id, { account: name, key, credits, status: 'ACKNOWLEDGED' });
            if (headers['Idempotency-Key'] && rnd() < 0.2) retry = headers;
          } else {
            assert.ok([400, 429].includes(r.status) || (killed && r.status === 0), `create: ${r.status} ${r.text}`);
          }
          if (retry) {
            const again = await request(agent, server.port, 'POST', endpoint, key, body, retry);
            if (again.status === 200) {
              assert.equal(JSON.parse(again.text).id, JSON.parse(r.text).id, 'an Idempotency-Key retry is the same task');
              ++retriesSame;
            }
          }
        } else if (roll < 0.85) {
          const id = byAccount[a][Math.floor(rnd() * byAccount[a].length)];
          r = await request(agent, server.port, 'GET', `/v1/tasks/${id}`, key);
          count('get', r.status);
          if (r.status === 200) acknowledged.get(id).status = JSON.parse(r.text).status;
          else assert.ok((killed && r.status === 0) || (r.status === 404 && deleted.has(id)), `get: ${r.status} ${r.text}`);
        } else if (roll < 0.9) {
          const id = byAccount[a][Math.floor(rnd() * byAccount[a].length)];
          deleted.add(id);  // before the request: a read or delete racing with it may see it gone
          r = await request(agent, server.port, 'DELETE', `/v1/tasks/${id}`, key);
          count('delete', r.status);
          // A task is deleted (or cancelled) once: another connection may have deleted it first.
          assert.ok(r.status === 204 || (killed && r.status === 0) || (r.status === 404 && deleted.has(id)), `delete: ${r.status} ${r.text}`);
          const at = byAccount[a].indexOf(id);
          if (r.status === 204 && at >= 0) byAccount[a].splice(at, 1);
        } else {
          r = await request(agent, server.port, 'GET', '/v1/organization', key);
          count('organization', r.status);
          assert.ok(r.status === 200 || (killed && r.status === 0), `organization: ${r.status}`);
        }
        if (r.status !== 0) {
          ++requests;
          latencies.push(r.ns);
        }
      }
    };
    const started = Date.now();
    const loops = Array.from({ length: CONNECTIONS }, (_, c) => loop(c));
    // SIGKILL while the load still runs: at the deadline, before the loops stop.
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 50)));
    server.proc.kill('SIGKILL');
    killed = true;
    await server.exited;
    await Promise.all(loops);
    agent.destroy();
    const elapsed = (Date.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    const ms = (ns) => (ns / 1e6).toFixed(2);
    t.diagnostic(`${requests} requests in ${elapsed.toFixed(1)} s: ${Math.round(requests / elapsed)} req/s, p50 ${ms(percentile(latencies, 50))} ms, p99 ${ms(percentile(latencies, 99))} ms`);
    t.diagnostic(`answers: ${[...counts.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    t.diagnostic(`${acknowledged.size} acknowledged creates, ${retriesSame} keyed retries answered with the same task`);
    assert.ok(acknowledged.size > 100, 'the load created tasks');
    assert.ok((counts.get('create 429') ?? 0) > 0, 'some accounts met their daily caps');
    const seen = [...acknowledged.values()].reduce((m, { status }) => m.set(status, (m.get(status) ?? 0) + 1), new Map());
    t.diagnostic(`last seen before the crash: ${[...seen.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    assert.ok(seen.get('SUCCEEDED') > 0, 'tasks were seen SUCCEEDED during the load');
    assert.ok((seen.get('FAILED') ?? 0) + (seen.get('CANCELLED') ?? 0) > 0, 'tasks were seen FAILED or CANCELLED during the load');

    // The journal after SIGKILL: sound.
    const verify = spawnSync(ledgerTool, [server.journal, 'verify'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `tollgate-ledger verify: ${verify.stdout}${verify.stderr}`);
  } finally {
    if (!killed) server.proc.kill('SIGKILL');
    await server.exited;
  }

  // The restart: every acknowledged create is known, or its hold was settled.
  const again = await startServer(config, { dir: server.dir });
  try {
    const fates = new Map();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const ids = [...acknowledged.entries()];
    const held = new Map();  // account -> credits held by the open tasks the server knows
    let next = 0;
    const check = async () => {
      while (next < ids.length) {
        const [id, task] = ids[next++];
        const r = await request(agent, again.port, 'GET', `/admin/accounts/${task.account}/tasks/${id}`, ADMIN_KEY);
        assert.equal(r.status, 200, r.text);
        const record = JSON.parse(r.text);
        const fate = record.task ? `known ${record.task.status}` : `ledger ${record.hold}`;
        if (record.task && record.hold === 'open') held.set(task.account, (held.get(task.account) ?? 0) + task.credits);
        fates.set(fate, (fates.get(fate) ?? 0) + 1);
        assert.ok(record.task || record.hold === 'captured' || record.hold === 'released', `${id}: ${r.text}`);
        assert.equal(record.heldCredits, task.credits, `${id}: ${r.text}`);
        if (record.hold === 'captured') assert.equal(record.capturedCredits, task.credits, `${id}: captured in full`);
        if (task.status === 'SUCCEEDED') assert.equal(record.hold, 'captured', `${id} was seen SUCCEEDED`);
        if (task.status === 'FAILED' || task.status === 'CANCELLED') assert.equal(record.hold, 'released', `${id} was seen ${task.status}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, check));
    agent.destroy();
    t.diagnostic(`after the restart: ${[...fates.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    const fate = (k) => fates.get(k) ?? 0;
    assert.ok(fate('ledger captured') + fate('known SUCCEEDED') > 0, 'some tasks were charged');
    assert.ok(fate('ledger released') + fate('known FAILED') + fate('known CANCELLED') > 0, 'some tasks were refunded');
    // Nothing is held that no known task holds.
    for (const { name } of accounts) {
      const a = await (await admin(again, `/admin/accounts/${name}`)).json();
      assert.equal(a.heldCredits, held.get(name) ?? 0, `${name}: ${JSON.stringify(a)}`);
      assert.equal(a.purchasedUsd, '100.00');
    }
    const { code } = await again.stop();
    assert.equal(code, 0, again.stderr);
    const verify = spawnSync(ledgerTool, [server.journal, 'verify'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `tollgate-ledger verify after the restart: ${verify.stdout}${verify.stderr}`);
  } finally {
    await again.dispose();
  }
});
