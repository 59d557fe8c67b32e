// The task flow through the official client: create and wait, THROTTLED
// while a tier-1 slot is busy, the organization view, the daily cap, not
// enough credits, cancel and refund, the usage report, a purchase that
// promotes the account, an Idempotency-Key. The tests run in order on one
// server and build on each other's state (balances, the day's counts).
//
// The server runs on the manual clock (2026-01-05T00:00:00Z) with 1 s
// generations (gen4_turbo: 10 s) and no failures; tier 1 of the default
// table: video 1 running / 50 a day, image 2 / 200, $100 a month.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, NotFoundError, RateLimitError, TaskFailedError } from '@runwayml/sdk';
import { startServer, testConfig, client, purchase, advance, api, KEYS } from './harness.mjs';

let server;

before(async () => {
  server = await startServer(testConfig({ simulation: { generation_ms: { default: 1000, gen4_turbo: 10_000 } } }));
});

after(async () => {
  await server.dispose();
});

const image = 'https://example.com/frame.jpg';
const video = (c, extra = {}) => c.imageToVideo.create({ model: 'gen4_turbo', promptImage: image, ratio: '1280:720', duration: 5, ...extra });
const picture = (c) => c.textToImage.create({ model: 'gen4_image', promptText: 'a lighthouse at dusk', ratio: '1920:1080' });

test('create and wait for the output with the client\'s own polling', async () => {
  await purchase(server, 'studio', '10.00');
  const c = client(server);
  const waiting = picture(c).waitForTaskOutput({ timeout: 60_000 });
  // The client waits 4.5-7.5 s before its first poll; the task needs 1 s of the test clock.
  setTimeout(() => advance(server, 1000), 500);
  const done = await waiting;
  assert.equal(done.status, 'SUCCEEDED');
  assert.equal(done.cost.credits, 8);
  assert.equal(done.output.length, 1);
  assert.match(done.output[0], /^https:\/\/media\.tollgate\.invalid\/outputs\/.+\/0\.png$/);
});

test('a tier-1 account runs one video at a time: the next is THROTTLED, then runs in order', async () => {
  await purchase(server, 'agency', '20.00');
  const c = client(server, KEYS.agency);
  const first = await video(c);
  const second = await video(c);
  const third = await video(c);
  assert.equal((await c.tasks.retrieve(first.id)).status, 'RUNNING');
  assert.equal((await c.tasks.retrieve(second.id)).status, 'THROTTLED');
  assert.equal((await c.tasks.retrieve(third.id)).status, 'THROTTLED');
  await advance(server, 10_000);
  assert.equal((await c.tasks.retrieve(first.id)).status, 'SUCCEEDED');
  const running = await c.tasks.retrieve(second.id);
  assert.equal(running.status, 'RUNNING');
  assert.ok(running.progress >= 0 && running.progress <= 1);
  assert.equal(running.estimatedCost.credits, 25);
  assert.equal((await c.tasks.retrieve(third.id)).status, 'THROTTLED');
  await advance(server, 10_000);
  assert.equal((await c.tasks.retrieve(second.id)).status, 'SUCCEEDED');
  assert.equal((await c.tasks.retrieve(third.id)).status, 'RUNNING');
  await advance(server, 10_000);
  const last = await c.tasks.retrieve(third.id);
  assert.equal(last.status, 'SUCCEEDED');
  assert.equal(last.cost.credits, 25);
  const org = await c.organization.retrieve();
  assert.equal(org.creditBalance, 2000 - 3 * 25);
});

test('the organization view shows tier 1\'s limits and the day\'s generations', async () => {
  const c = client(server, KEYS.agency);
  const org = await c.organization.retrieve();
  assert.equal(org.tier.maxMonthlyCreditSpend, 10_000);
  assert.deepEqual(org.tier.models.gen4_turbo, { maxConcurrentGenerations: 1, maxDailyGenerations: 50 });
  assert.deepEqual(org.tier.models.gen4_image, { maxConcurrentGenerations: 2, maxDailyGenerations: 200 });
  assert.equal(org.usage.models.gen4_turbo.dailyGenerations, 3);
});

test('the daily cap is the client\'s RateLimitError, with Retry-After and no retry', async () => {
  await purchase(server, 'studio', '30.00');
  const c = client(server);
  const org = await c.organization.retrieve();
  const used = org.usage.models.gen4_turbo?.dailyGenerations ?? 0;
  for (let i = used; i < 50; ++i) await video(c, { duration: 2 });
  const started = Date.now();
  const err = await video(c, { duration: 2 }).catch((e) => e);
  assert.ok(err instanceof RateLimitError, String(err));
  assert.equal(err.error.code, 'daily_limit');
  assert.equal(err.headers.get('x-should-retry'), 'false');
  assert.ok(Number(err.headers.get('retry-after')) > 0);
  assert.ok(Date.now() - started < 1000, 'refused at once, not after the client\'s retries');
});

test('not enough credits is a BadRequestError and leaves nothing behind', async () => {
  const c = client(server, KEYS.probe);
  const before = await c.organization.retrieve();
  const err = await video(c).catch((e) => e);
  assert.ok(err instanceof BadRequestError, String(err));
  assert.equal(err.error.code, 'insufficient_credits');
  assert.equal(err.error.estimatedCost.credits, 25);
  const afterwards = await c.organization.retrieve();
  assert.equal(afterwards.creditBalance, before.creditBalance);
  assert.equal(afterwards.usage.models.gen4_turbo?.dailyGenerations ?? 0, before.usage.models.gen4_turbo?.dailyGenerations ?? 0);
});

test('cancel: the refund is visible in creditBalance; a cancelled task cannot be fetched again', async () => {
  await purchase(server, 'agency', '1.00');
  const c = client(server, KEYS.agency);
  const before = (await c.organization.retrieve()).creditBalance;
  const queued = await video(c);
  const running = await picture(c);
  assert.equal((await c.organization.retrieve()).creditBalance, before - 25 - 8);
  assert.equal(await c.tasks.delete(queued.id), null);
  assert.equal(await c.tasks.delete(running.id), null);
  assert.equal((await c.organization.retrieve()).creditBalance, before);
  // The client's docs of tasks.delete: "Aborted and deleted tasks will not be able to be fetched again".
  for (const id of [queued.id, running.id]) {
    const err = await c.tasks.retrieve(id).catch((e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
  }
});

test('a task of another account is not found', async () => {
  const mine = await picture(client(server));
  const err = await client(server, KEYS.agency).tasks.retrieve(mine.id).catch((e) => e);
  assert.ok(err instanceof NotFoundError, String(err));
  const res = await api(server, '/v1/tasks/no-such-task');
  assert.equal(res.status, 404);
});

test('the usage report sums to what was spent', async () => {
  await advance(server, 60_000);
  const c = client(server, KEYS.agency);
  const usage = await c.organization.retrieveUsage({ startDate: '2026-01-05', beforeDate: '2026-01-06' });
  assert.deepEqual(usage.results.map((r) => r.date), ['2026-01-05']);
  const spent = Object.fromEntries(usage.results[0].usedCredits.map((u) => [u.model, u.amount]));
  assert.equal(spent.gen4_turbo, 3 * 25);  // the cancelled one refunded
  assert.equal(spent.gen4_image ?? 0, 0);
  assert.ok(usage.models.includes('gen4_turbo'));
  const org = await c.organization.retrieve();
  const purchased = 2000 + 100;
  assert.equal(org.creditBalance, purchased - usage.results[0].usedCredits.reduce((s, u) => s + u.amount, 0));
});

test('a purchase promotes the account once the clock allows it', async () => {
  const c = client(server);
  assert.equal((await c.organization.retrieve()).tier.models.gen4_turbo.maxConcurrentGenerations, 1);
  await purchase(server, 'studio', '50.00');  // $50 in all and more: tier 2 needs one day since the first purchase
  assert.equal((await c.organization.retrieve()).tier.models.gen4_turbo.maxConcurrentGenerations, 1);
  await advance(server, 24 * 3600 * 1000);
  const org = await c.organization.retrieve();
  assert.equal(org.tier.models.gen4_turbo.maxConcurrentGenerations, 3);
  assert.equal(org.tier.maxMonthlyCreditSpend, 50_000);
});

test('an Idempotency-Key makes a create exactly-once', async () => {
  const c = client(server);
  const body = { model: 'gen4_image', promptText: 'once', ratio: '1280:720' };
  const a = await c.textToImage.create(body, { headers: { 'Idempotency-Key': 'campaign-7' } });
  const b = await c.textToImage.create(body, { headers: { 'Idempotency-Key': 'campaign-7' } });
  assert.equal(b.id, a.id);
  const err = await c.textToImage.create({ ...body, promptText: 'twice' }, { headers: { 'Idempotency-Key': 'campaign-7' } }).catch((e) => e);
  assert.equal(err.status, 409);
  assert.equal(err.error.code, 'idempotency_conflict');
});
