// The configuration: a wrong field is refused at start with its JSON path,
// exit status 2 and nothing listening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serverBinary, testConfig, startServer } from './harness.mjs';

function run(config, args = []) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-config-test-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
  const r = spawnSync(serverBinary, ['--config', file, ...listen, ...args], { encoding: 'utf8', timeout: 10_000 });
  rmSync(dir, { recursive: true, force: true });
  return r;
}

test('a bad configuration is refused with the field\'s path', () => {
  const base = testConfig();
  const cases = [
    ['{', /not valid JSON/],
    ['{"admin_key": "a", "admin_key": "b"}', /admin_key: repeated key/],
    [{ ...base, admin_key: 'short' }, /admin_key: a key has 16 to 256 characters/],
    [{ ...base, api_keys: [{ key: base.admin_key, account: 'x' }] }, /api_keys\[0\]\.key: is the admin key/],
    [{ ...base, api_keys: [...base.api_keys, { ...base.api_keys[0] }] }, /api_keys\[3\]\.key: repeats api_keys\[0\]\.key/],
    [{ ...base, api_keys: [{ key: 'k'.repeat(20), account: 'a b' }] }, /api_keys\[0\]\.account: an account id/],
    [{ ...base, http: { max_connections: 0 } }, /http\.max_connections: must be at least 1, got 0/],
    [{ ...base, http: { max_conections: 5 } }, /http\.max_conections: unknown field/],
    [{ ...base, http: { io_threads: '2' } }, /http\.io_threads: expected an integer, got a string/],
    [{ ...base, durability: 'sometimes' }, /durability: expected "every_op", "group_commit" or "none"/],
    [{ ...base, simulation: { failure_rate: 0.05 } }, /simulation\.failure_rate: expected a string/],
    [{ ...base, simulation: { failure_rate: '1.5' } }, /simulation\.failure_rate: is too large/],
    [{ ...base, simulation: { clock: 'manual', start: '2026-02-30T00:00:00Z' } }, /simulation\.start: '2026-02-30T00:00:00Z' is not a valid time/],
    [{ ...base, simulation: { clock: 'system', start: '2026-01-01T00:00:00Z' } }, /simulation\.start: only a manual clock takes a start/],
    [{ ...base, simulation: { generation_ms: { gen4_turbo: -1 } } }, /simulation\.generation_ms\.gen4_turbo: must be at least 0/],
    [{ ...base, simulation: { pickup_ms: -1 } }, /simulation\.pickup_ms: must be at least 0/],
    [{ ...base, simulation: { pickup_ms: '10' } }, /simulation\.pickup_ms: expected an integer, got a string/],
    [{ ...base, simulation: { pickup_ms: 86_400_001 } }, /simulation\.pickup_ms: .*86400000/],
    [{ ...base, listen: 'localhost:80' }, /listen: 'localhost' is not an IP address/],
    [{ ...base, journal: undefined }, /journal: is missing/],
    [{ ...base, catalog: 'no-such-catalog.json' }, /no-such-catalog\.json/],
  ];
  for (const [config, message] of cases) {
    const r = run(config);
    assert.equal(r.status, 2, `${JSON.stringify(config).slice(0, 80)}: status ${r.status}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', 'nothing listening');
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const badListen = run(testConfig(), ['--listen', '127.0.0.1:99999']);
  assert.equal(badListen.status, 2);
  assert.match(badListen.stderr, /--listen: the port must be a decimal number from 0 to 65535/);
});

test('the sample configuration starts', async () => {
  const sample = JSON.parse(
    (await import('node:fs')).readFileSync(new URL('../../data/server-sample.json', import.meta.url), 'utf8'),
  );
  const s = await startServer({ ...sample, journal: 'server.journal' });
  try {
    const res = await fetch(`${s.url}/health`);
    assert.equal(res.status, 200);
  } finally {
    await s.dispose();
  }
});
