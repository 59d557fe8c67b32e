// Starts tollgate-server on a free loopback port with a configuration made
// for the test, and gives the tests what they need to talk to it: the
// official client (@runwayml/sdk), plain fetch, and raw sockets for what no
// client would send. The binary comes from TOLLGATE_SERVER (scripts/test.sh
// sets it), else the release build of this checkout.
import { spawn } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import RunwayML from '@runwayml/sdk';

const here = path.dirname(fileURLToPath(import.meta.url));
export const serverBinary =
  process.env.TOLLGATE_SERVER ?? path.resolve(here, '../../build/release/examples/server/tollgate-server');

// A server still running 30 s after a test file's tests ended (a test that
// failed before stopping it) is killed, so it cannot keep the file from
// ending. The timer does not keep the process alive by itself: a file whose
// servers all stopped ends at once.
const live = new Set();
after(() => {
  setTimeout(() => {
    for (const proc of live) proc.kill('SIGKILL');
  }, 30_000).unref();
});

export const ADMIN_KEY = 'admin_test_key_0123456789abcdef';
export const KEYS = {
  studio: 'key_studio_test_0123456789abcdef',
  agency: 'key_agency_test_0123456789abcdef',
  probe: 'key_probe_test_0123456789abcdef0',
};
export const VERSION = '2024-11-06';

/** A configuration for a test: the sample's shape, a fresh journal, a manual clock. */
export function testConfig(overrides = {}) {
  const { http = {}, simulation = {}, ...rest } = overrides;
  return {
    admin_key: ADMIN_KEY,
    api_keys: Object.entries(KEYS).map(([account, key]) => ({ key, account })),
    journal: 'server.journal',
    durability: 'group_commit',
    http: { max_body_bytes: 65536, header_timeout_ms: 2000, body_timeout_ms: 2000, idle_timeout_ms: 5000, ...http },
    workers: 4,
    simulation: { clock: 'manual', start: '2026-01-05T00:00:00Z', generation_ms: { default: 1000 }, ...simulation },
    ...rest,
  };
}

/**
 * Starts a server; resolves once it prints "listening on http://HOST:PORT".
 * `dir` reuses a directory (a restart on the same journal).
 */
export async function startServer(config = testConfig(), { dir } = {}) {
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'tollgate-server-test-'));
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  if (!existsSync(serverBinary)) throw new Error(`no server binary at ${serverBinary}; build it or set TOLLGATE_SERVER`);
  const proc = spawn(serverBinary, ['--config', configFile, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 10 s; stderr:\n${stderr}`)), 10_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/[^\s]+)\n/m);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; stderr:\n${stderr}`));
    });
  });
  const { port } = new URL(url);
  const server = {
    url,
    port: Number(port),
    dir,
    journal: path.join(dir, 'server.journal'),
    proc,
    exited,
    get stderr() {
      return stderr;
    },
    /** SIGTERM, then the exit status. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    /** Stops the server and removes its directory. */
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The official client for an account (or any key), pointed at the server. */
export function client(server, key = KEYS.studio, options = {}) {
  return new RunwayML({ apiKey: key, baseURL: server.url, logLevel: 'off', ...options });
}

/** fetch with the API headers of an account; `headers` overrides them. */
export function api(server, pathname, { method = 'GET', body, headers = {}, key = KEYS.studio } = {}) {
  const h = { Authorization: `Bearer ${key}`, 'X-Runway-Version': VERSION, ...headers };
  if (body !== undefined && !('Content-Type' in h)) h['Content-Type'] = 'application/json';
  return fetch(server.url + pathname, {
    method,
    headers: Object.fromEntries(Object.entries(h).filter(([, v]) => v !== null)),
    body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/** fetch of the administration API. */
export function admin(server, pathname, { method = 'GET', body } = {}) {
  return api(server, pathname, { method, body, key: ADMIN_KEY, headers: { 'X-Runway-Version': null } });
}

/** Buys credits for an account through the administration API. */
export async function purchase(server, account, usd, key = `buy-${Math.random().toString(36).slice(2)}`) {
  const res = await admin(server, `/admin/accounts/${account}/purchase`, { method: 'POST', body: { usd, key } });
  if (res.status !== 200) throw new Error(`purchase: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Moves the test clock forward. */
export async function advance(server, ms) {
  const res = await admin(server, '/admin/clock', { method: 'POST', body: { advanceMs: ms } });
  if (res.status !== 200) throw new Error(`clock: ${res.status} ${await res.text()}`);
  return res.json();
}

/** A raw TCP connection: write bytes, read what comes back until the server closes. */
export function rawConnection(server) {
  const socket = net.connect(server.port, '127.0.0.1');
  let data = Buffer.alloc(0);
  socket.on('data', (d) => (data = Buffer.concat([data, d])));
  const closed = new Promise((resolve) => socket.on('close', () => resolve(data.toString('latin1'))));
  socket.on('error', () => {});
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, connected, closed, received: () => data.toString('latin1') };
}

/** Sends `bytes` on a new connection and resolves with everything received before the close. */
export async function rawExchange(server, bytes) {
  const c = rawConnection(server);
  await c.connected;
  c.socket.write(bytes);
  return c.closed;
}

/** The SHA-256 of a file, or null when it does not exist. */
export function fileDigest(file) {
  if (!existsSync(file)) return null;
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
