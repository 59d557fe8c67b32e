// Beyond the client's happy paths, through the gate: a failed generation
// (failure, failureCode, refunded), progress on the test clock, enterprise
// overrides and the spend cap through the administration API, autobilling
// rescuing a create, the gate's counters in /metrics, and a restart with
// tasks open (their holds refunded, the server serving on).
//
// The server runs on the manual clock (2026-01-05T00:00:00Z) with 1 s
// generations (gen4_turbo: 10 s). Tier 1: video 1 running / 50 a day,
// $100 of purchases in any 30 days.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, TaskFailedError } from '@runwayml/sdk';
import { startServer, testConfig, client, admin, api, purchase, advance, sleep, KEYS } from './harness.mjs';

let server;
const config = testConfig({ simulation: { generation_ms: { default: 1000, gen4_turbo: 10_000 } } });

before(async () => {
  server = await startServer(config);
});

after(async () => {
  await server.dispose();
});

const image = 'https://example.com/frame.jpg';
const video = (c) => c.imageToVideo.create({ model: 'gen4_turbo', promptImage: image, ratio: '1280:720', duration: 5 });  // 25 credits
const picture = (c) => c.textToImage.create({ model: 'gen4_image', promptText: 'a lighthouse at dusk', ratio: '1920:1080' });  // 8 credits

async function account(s, name) {
  return (await admin(s, `/admin/accounts/${name}`)).json();
}

async function metric(s, line) {
  const text = await (await admin(s, '/metrics')).text();
  const m = text.match(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'));
  assert.ok(m, `no ${line} in\n${text}`);
  return Number(m[1]);
}

test('a failed generation is FAILED with failure and failureCode, refunded in full', async () => {
  const s = await startServer(testConfig({ simulation: { failure_rate: '1' } }));
  try {
    await purchase(s, 'studio', '1.00');
    const c = client(s);
    const task = await picture(c);
    assert.equal((await account(s, 'studio')).heldCredits, 8);
    await advance(s, 1000);
    const t = await c.tasks.retrieve(task.id);
    assert.equal(t.status, 'FAILED');
    assert.equal(t.failure, 'The generation failed (simulated).');
    assert.equal(t.failureCode, 'INTERNAL.BAD_OUTPUT.CODE01');
    assert.equal(t.cost.credits, 0);
    assert.equal(t.output, undefined);
    const err = await c.tasks.retrieve(task.id).waitForTaskOutput().catch((e) => e);
    assert.ok(err instanceof TaskFailedError, String(err));
    assert.deepEqual(await account(s, 'studio'), { account: 'studio', creditBalance: 100, heldCredits: 0, purchasedCredits: 100, purchasedUsd: '1.00' });
    assert.equal(await metric(s, 'tollgate_tasks_total{kind="failed"}'), 1);
    assert.equal(await metric(s, 'tollgate_refunded_credits_total'), 8);
    assert.equal(await metric(s, 'tollgate_captured_credits_total'), 0);
  } finally {
    await s.dispose();
  }
});

test('a running task reports its progress as the test clock moves', async () => {
  await purchase(server, 'studio', '1.00');
  const c = client(server);
  const task = await picture(c);
  const at = async () => (await c.tasks.retrieve(task.id)).progress;
  assert.equal(await at(), 0);
  await advance(server, 250);
  assert.equal(await at(), 0.25);
  await advance(server, 500);
  assert.equal(await at(), 0.75);
  await advance(server, 250);
  const done = await c.tasks.retrieve(task.id);
  assert.equal(done.status, 'SUCCEEDED');
  assert.equal(done.cost.credits, 8);
  assert.equal(done.progress, undefined);
  assert.equal(done.estimatedCost, undefined);
});

test('an enterprise override raises concurrency at once and starts the queued tasks', async () => {
  await purchase(server, 'agency', '10.00');
  const c = client(server, KEYS.agency);
  const tasks = [await video(c), await video(c), await video(c)];
  const statuses = async () => Promise.all(tasks.map(async (t) => (await c.tasks.retrieve(t.id)).status));
  assert.deepEqual(await statuses(), ['RUNNING', 'THROTTLED', 'THROTTLED']);
  const body = { models: { gen4_turbo: { maxConcurrentGenerations: 3, maxDailyGenerations: null } } };
  const set = await admin(server, '/admin/accounts/agency/override', { method: 'PUT', body });
  assert.equal(set.status, 200, await set.clone().text());
  assert.deepEqual(await statuses(), ['RUNNING', 'RUNNING', 'RUNNING']);
  const org = await c.organization.retrieve();
  assert.deepEqual(org.tier.models.gen4_turbo, { maxConcurrentGenerations: 3, maxDailyGenerations: null });
  assert.deepEqual(org.tier.models.gen4_image, { maxConcurrentGenerations: 2, maxDailyGenerations: 200 });  // untouched
  // Beyond the provider's fields, under "tollgate" (the client passes it through).
  assert.deepEqual(org.tollgate.models.gen4_turbo, { group: 'video', running: 3, queued: 0, overridden: true });
  assert.equal(org.tollgate.heldCredits, 3 * 25);
  assert.equal(org.tollgate.tierName, 'Tier 1');
  const bad = await admin(server, '/admin/accounts/agency/override', { method: 'PUT', body: { models: { gen9: { maxConcurrentGenerations: 1, maxDailyGenerations: 1 } } } });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /models\.gen9: not a model of the catalog/);
  const cleared = await admin(server, '/admin/accounts/agency/override', { method: 'DELETE' });
  assert.equal(cleared.status, 200);
  assert.deepEqual((await c.organization.retrieve()).tier.models.gen4_turbo, { maxConcurrentGenerations: 1, maxDailyGenerations: 50 });
  await advance(server, 10_000);
  assert.deepEqual(await statuses(), ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
  assert.equal((await c.organization.retrieve()).creditBalance, 1000 - 3 * 25);
});

test('the spend cap refuses a purchase over the tier\'s 30 days with 403; an override lifts it', async () => {
  await purchase(server, 'studio', '90.00');  // $91 in all today
  const over = await admin(server, '/admin/accounts/studio/purchase', { method: 'POST', body: { usd: '20.00', key: 'over-cap' } });
  assert.equal(over.status, 403);
  const refusal = await over.json();
  assert.equal(refusal.code, 'monthly_spend_limit');
  assert.match(refusal.error, /over the 30-day spend cap of \$100\.00\. \$9\.00 can be bought now/);
  assert.equal(over.headers.get('x-should-retry'), 'false');
  assert.equal((await account(server, 'studio')).purchasedUsd, '91.00');
  const lift = await admin(server, '/admin/accounts/studio/override', { method: 'PUT', body: { models: {}, maxMonthlySpendUsd: '5000.00' } });
  assert.equal(lift.status, 200);
  assert.equal((await client(server).organization.retrieve()).tier.maxMonthlyCreditSpend, 500_000);
  assert.equal((await purchase(server, 'studio', '20.00', 'over-cap')).usd, '20.00');
  assert.equal((await admin(server, '/admin/accounts/studio/override', { method: 'DELETE' })).status, 200);
});

test('autobilling buys credits for a create that is short of them', async () => {
  const c = client(server, KEYS.probe);
  const short = await video(c).catch((e) => e);
  assert.equal(short.status, 400);
  assert.equal(short.error.code, 'insufficient_credits');
  const bad = await admin(server, '/admin/accounts/probe/autobilling', { method: 'PUT', body: { enabled: true, thresholdCredits: '10', amountUsd: '0' } });
  assert.equal(bad.status, 400);
  const on = await admin(server, '/admin/accounts/probe/autobilling', { method: 'PUT', body: { enabled: true, thresholdCredits: '10', amountUsd: '5.00' } });
  assert.equal(on.status, 200, await on.clone().text());
  const before = await metric(server, 'tollgate_purchases_total{kind="automatic"}');
  const task = await video(c);
  assert.equal(task.estimatedCost.credits, 25);
  assert.deepEqual(await account(server, 'probe'), { account: 'probe', creditBalance: 475, heldCredits: 25, purchasedCredits: 500, purchasedUsd: '5.00' });
  assert.equal(await metric(server, 'tollgate_purchases_total{kind="automatic"}'), before + 1);
  const off = await admin(server, '/admin/accounts/probe/autobilling', { method: 'PUT', body: { enabled: false } });
  assert.equal(off.status, 200);
  await c.tasks.delete(task.id);
  assert.equal((await account(server, 'probe')).creditBalance, 500);
});

test('the gate\'s counters are in /metrics', async () => {
  assert.ok(await metric(server, 'tollgate_tasks_total{kind="admitted"}') >= 5);
  assert.ok(await metric(server, 'tollgate_tasks_total{kind="throttled"}') >= 2);
  assert.ok(await metric(server, 'tollgate_tasks_total{kind="completed"}') >= 4);
  assert.equal(await metric(server, 'tollgate_tasks_total{kind="cancelled"}'), 1);
  assert.ok(await metric(server, 'tollgate_refusals_total{reason="insufficient_credits"}') >= 1);
  assert.equal(await metric(server, 'tollgate_refusals_total{reason="monthly_spend_limit"}'), 1);
  assert.ok(await metric(server, 'tollgate_captured_credits_total') >= 8 + 3 * 25);
  assert.equal(await metric(server, 'tollgate_generator_running'), 0);
});

test('SIGTERM with tasks open: the restart refunds their holds and serves on', async () => {
  const s = await startServer(config);
  const c = client(s, KEYS.agency);
  await purchase(s, 'agency', '1.00', 'restart-1');
  const done = await picture(c);
  await advance(s, 1000);
  assert.equal((await c.tasks.retrieve(done.id)).status, 'SUCCEEDED');
  const open = [await video(c), await video(c)];  // RUNNING, THROTTLED
  assert.equal((await account(s, 'agency')).heldCredits, 50);
  const { code } = await s.stop();
  assert.equal(code, 0, s.stderr);
  const again = await startServer(config, { dir: s.dir });
  try {
    for (let i = 0; i < 100 && !/orphan holds/.test(again.stderr); ++i) await sleep(20);  // stderr may trail stdout
    assert.match(again.stderr, /1 accounts, 0 open tasks back, 2 orphan holds released \(50 credits\)/);
    assert.deepEqual(await account(again, 'agency'), { account: 'agency', creditBalance: 92, heldCredits: 0, purchasedCredits: 100, purchasedUsd: '1.00' });
    const c2 = client(again, KEYS.agency);
    for (const t of open) assert.equal((await c2.tasks.retrieve(t.id).catch((e) => e)).status, 404);
    assert.equal((await purchase(again, 'agency', '1.00', 'restart-1')).replayed, true);
    const next = await video(c2);
    assert.equal((await c2.tasks.retrieve(next.id)).status, 'RUNNING');
  } finally {
    await again.dispose();
  }
});

test('a task with a slot is PENDING until the simulated worker claims it, then RUNNING, then SUCCEEDED', async () => {
  // simulation.pickup_ms: how long a task that got its slot waits for a worker.
  const s = await startServer(testConfig({ simulation: { pickup_ms: 500, generation_ms: { default: 1000, gen4_turbo: 10_000 } } }));
  try {
    await purchase(s, 'studio', '2.00');
    const c = client(s);
    const task = await picture(c);
    const pending = await c.tasks.retrieve(task.id);
    assert.equal(pending.status, 'PENDING');
    assert.equal(pending.estimatedCost.credits, 8);
    assert.equal(pending.progress, undefined);
    assert.equal((await account(s, 'studio')).heldCredits, 8);
    await advance(s, 500);
    const running = await c.tasks.retrieve(task.id);
    assert.equal(running.status, 'RUNNING');
    assert.equal(running.progress, 0);
    await advance(s, 500);
    assert.equal((await c.tasks.retrieve(task.id)).progress, 0.5);
    // The client's own polling goes through PENDING too.
    const next = picture(c).waitForTaskOutput({ timeout: 60_000 });
    setTimeout(() => advance(s, 1500), 500);
    const done = await next;
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.cost.credits, 8);
    assert.equal((await c.tasks.retrieve(task.id)).status, 'SUCCEEDED');
    // A queued video: THROTTLED, then PENDING when the slot frees, then RUNNING.
    const first = await video(c);
    const second = await video(c);
    const status = async (t) => (await c.tasks.retrieve(t.id)).status;
    assert.deepEqual([await status(first), await status(second)], ['PENDING', 'THROTTLED']);
    await advance(s, 10_500);
    assert.deepEqual([await status(first), await status(second)], ['SUCCEEDED', 'PENDING']);
    await advance(s, 500);
    assert.equal(await status(second), 'RUNNING');
    // DELETE of a PENDING task cancels it with a full refund; it never runs.
    const third = await picture(c);
    assert.equal(await status(third), 'PENDING');
    const held = (await account(s, 'studio')).heldCredits;
    await c.tasks.delete(third.id);
    assert.equal((await account(s, 'studio')).heldCredits, held - 8);
    await advance(s, 2000);
    assert.equal(await metric(s, 'tollgate_tasks_total{kind="cancelled"}'), 1);
    assert.equal(await metric(s, 'tollgate_generator_running'), 1);  // the second video; the cancelled picture never ran
  } finally {
    await s.dispose();
  }
});

test('tier.maxMonthlyCreditSpend is always a number: an override that lifts the cap reports the largest exact one', async () => {
  const s = await startServer(testConfig());
  try {
    const c = client(s);
    assert.equal((await c.organization.retrieve()).tier.maxMonthlyCreditSpend, 10_000);  // tier 1: $100
    // "maxMonthlySpendUsd": null lifts the cap (no limit on purchases).
    const lift = await admin(s, '/admin/accounts/studio/override', { method: 'PUT', body: { models: {}, maxMonthlySpendUsd: null } });
    assert.equal(lift.status, 200, await lift.clone().text());
    const org = await c.organization.retrieve();
    assert.equal(typeof org.tier.maxMonthlyCreditSpend, 'number');
    assert.equal(org.tier.maxMonthlyCreditSpend, Number.MAX_SAFE_INTEGER);
    assert.equal(org.tollgate.maxMonthlySpendUsd, null);  // tollgate's own block says "unlimited" as null
    assert.equal((await purchase(s, 'studio', '250000.00')).usd, '250000.00');
    // A cap too large for a JavaScript number to hold exactly is the same number, never a rounded one.
    const huge = await admin(s, '/admin/accounts/studio/override', { method: 'PUT', body: { models: {}, maxMonthlySpendUsd: '900000000000000.00' } });
    assert.equal(huge.status, 200, await huge.clone().text());
    assert.equal((await c.organization.retrieve()).tier.maxMonthlyCreditSpend, Number.MAX_SAFE_INTEGER);
    // Bad caps are refused by their field and change nothing.
    for (const [cap, message] of [[5000, /maxMonthlySpendUsd: expected a decimal string such as "5000\.00", or null/],
                                  ['-5.00', /maxMonthlySpendUsd: must not be negative/], ['5,000', /maxMonthlySpendUsd/],
                                  [{}, /maxMonthlySpendUsd: expected a decimal string/]]) {
      const bad = await admin(s, '/admin/accounts/studio/override', { method: 'PUT', body: { models: {}, maxMonthlySpendUsd: cap } });
      assert.equal(bad.status, 400, `${JSON.stringify(cap)}: ${await bad.clone().text()}`);
      assert.match((await bad.json()).error, message);
    }
    assert.equal((await c.organization.retrieve()).tier.maxMonthlyCreditSpend, Number.MAX_SAFE_INTEGER);
    const capped = await admin(s, '/admin/accounts/studio/override', { method: 'PUT', body: { models: {}, maxMonthlySpendUsd: '5000.00' } });
    assert.equal(capped.status, 200);
    assert.equal((await c.organization.retrieve()).tier.maxMonthlyCreditSpend, 500_000);
  } finally {
    await s.dispose();
  }
});

test('DELETE of a finished task deletes it (404 afterwards), credits and ledger untouched; of an open task cancels it with a refund', async () => {
  const s = await startServer(testConfig());
  try {
    await purchase(s, 'studio', '1.00');
    const c = client(s);
    const done = await picture(c);
    await advance(s, 1000);
    assert.equal((await c.tasks.retrieve(done.id)).status, 'SUCCEEDED');
    const before = await account(s, 'studio');
    const record = await (await admin(s, `/admin/accounts/studio/tasks/${done.id}`)).json();
    assert.equal(await c.tasks.delete(done.id), null);
    const gone = await c.tasks.retrieve(done.id).catch((e) => e);
    assert.ok(gone instanceof NotFoundError, String(gone));
    assert.deepEqual(await account(s, 'studio'), before);
    const after = await (await admin(s, `/admin/accounts/studio/tasks/${done.id}`)).json();
    assert.deepEqual({ ...after, task: null }, { ...record, task: null });  // the ledger's record stays
    assert.equal(after.task, null);
    assert.equal(after.hold, 'captured');
    // A second DELETE: the task is gone.
    assert.ok((await c.tasks.delete(done.id).catch((e) => e)) instanceof NotFoundError);
    // An open task: cancelled, refunded in full; aborted tasks cannot be fetched again either (the client's docs).
    const open = await picture(c);
    assert.equal((await account(s, 'studio')).heldCredits, 8);
    assert.equal(await c.tasks.delete(open.id), null);
    assert.deepEqual(await account(s, 'studio'), before);
    assert.ok((await c.tasks.retrieve(open.id).catch((e) => e)) instanceof NotFoundError);
    assert.equal((await (await admin(s, `/admin/accounts/studio/tasks/${open.id}`)).json()).hold, 'released');
    assert.equal(await metric(s, 'tollgate_tasks_total{kind="cancelled"}'), 1);
    // Odd ids: unknown (404), or a bad path (400); nothing changes.
    for (const [id, status] of [['x'.repeat(4000), 404], ['%00', 400], ['a%2Fb', 400], ['..', 404], [encodeURIComponent('é'), 404]]) {
      const r = await api(s, `/v1/tasks/${id}`, { method: 'DELETE' });
      assert.equal(r.status, status, `${id.slice(0, 20)}: ${await r.clone().text()}`);
    }
    assert.deepEqual(await account(s, 'studio'), before);
    // Another account cannot delete (nor see) it.
    const mine = await picture(c);
    assert.ok((await client(s, KEYS.agency).tasks.delete(mine.id).catch((e) => e)) instanceof NotFoundError);
    assert.equal((await c.tasks.retrieve(mine.id)).status, 'RUNNING');
  } finally {
    await s.dispose();
  }
});
