// The official client (@runwayml/sdk 4.20.1) against tollgate-server:
// authentication, the version header, validation errors as the client's
// error classes, the price of every endpoint (estimatedCost), the
// administration API, SIGTERM and SIGKILL with purchases. The task flow is
// in tasks.test.mjs and lifecycle.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import RunwayML, { AuthenticationError, BadRequestError, APIError } from '@runwayml/sdk';
import { VERSION as SDK_VERSION } from '@runwayml/sdk/version';
import { startServer, testConfig, client, admin, purchase, api, KEYS, ADMIN_KEY } from './harness.mjs';

let server;

before(async () => {
  server = await startServer(testConfig());
});

after(async () => {
  await server.dispose();
});

test('the client is the pinned 4.20.1', () => {
  assert.equal(SDK_VERSION, '4.20.1');
});

test('a wrong API key is the client\'s AuthenticationError', async () => {
  for (const key of ['key_wrong_0123456789abcdef0123', KEYS.studio + 'x', KEYS.studio.slice(0, -1), ADMIN_KEY]) {
    const err = await client(server, key).organization.retrieve().catch((e) => e);
    assert.ok(err instanceof AuthenticationError, `${key}: ${err}`);
    assert.equal(err.status, 401);
    assert.equal(err.error.code, 'unauthorized');
  }
});

test('a missing X-Runway-Version is a BadRequestError; an unknown one too', async () => {
  const none = client(server, KEYS.studio, { defaultHeaders: { 'X-Runway-Version': null } });
  let err = await none.organization.retrieve().catch((e) => e);
  assert.ok(err instanceof BadRequestError, String(err));
  assert.equal(err.error.code, 'missing_version');
  assert.match(err.message, /X-Runway-Version header is required/);
  err = await client(server, KEYS.studio, { runwayVersion: '1999-01-01' }).organization.retrieve().catch((e) => e);
  assert.ok(err instanceof BadRequestError, String(err));
  assert.equal(err.error.code, 'unsupported_version');
});

// The first wrong field of a create, as the client's BadRequestError.
async function refused(call, field, message) {
  const err = await call.catch((e) => e);
  assert.ok(err instanceof BadRequestError, `expected a BadRequestError, got ${err}`);
  assert.equal(err.status, 400);
  assert.equal(err.error.code, 'invalid_input');
  assert.deepEqual(err.error.issues[0].path, field ? [field] : []);
  assert.match(err.error.error, message);
  assert.equal(err.headers.get('x-should-retry'), 'false');
  return err;
}

test('validation errors name the field, for every endpoint', async () => {
  const c = client(server);
  await refused(c.imageToVideo.create({ model: 'gen4_turbo', ratio: '1280:720' }), 'promptImage', /is required/);
  await refused(c.imageToVideo.create({ model: 'gen4_turbo', promptImage: 'ftp://x', ratio: '1280:720' }), 'promptImage', /HTTPS URL/);
  await refused(c.imageToVideo.create({ model: 'gen4_turbo', promptImage: 'https://x/a.jpg', ratio: '1920:1080' }), 'ratio', /expected one of "1280:720"/);
  await refused(c.imageToVideo.create({ model: 'gen4_turbo', promptImage: 'https://x/a.jpg', ratio: '1280:720', duration: 11 }), 'duration', /from 2 to 10/);
  await refused(c.imageToVideo.create({ model: 'gen4.5', promptImage: 'https://x/a.jpg', promptText: 'x', ratio: '1280:720' }), 'duration', /is required/);
  await refused(c.imageToVideo.create({ model: 'veo3.1', promptImage: [{ uri: 'https://x/b.jpg', position: 'last' }], ratio: '1280:720' }), 'promptImage', /needs a "first" image/);
  await refused(c.imageToVideo.create({ model: 'veo3.1', promptImage: 'https://x/a.jpg', ratio: '1280:720', duration: 5 }), 'duration', /one of 4, 6, 8/);
  await refused(c.imageToVideo.create({ model: 'seedance2', promptImage: 'https://x/a.jpg' }), 'model', /"seedance2" is not offered on \/v1\/image_to_video; expected "gen4.5", "gen4_turbo", "veo3.1" or "veo3.1_fast"/);
  await refused(c.imageToVideo.create({ model: 'gen4_turbo', promptImage: 'https://x/a.jpg', ratio: '1280:720', colour: 'red' }), 'colour', /unknown field/);
  await refused(c.textToVideo.create({ model: 'gen4.5', promptText: 'x'.repeat(1001), ratio: '1280:720', duration: 5 }), 'promptText', /at most 1000 characters/);
  await refused(c.textToVideo.create({ model: 'gen4.5', promptText: 'a cat', ratio: '1104:832', duration: 5 }), 'ratio', /"1280:720" or "720:1280"/);
  await refused(c.textToVideo.create({ model: 'gen4.5', promptText: 'a cat', ratio: '1280:720', duration: 5, outputFormat: 'prores' }), 'outputFormat', /only "mp4"/);
  await refused(c.textToImage.create({ model: 'gen4_image_turbo', promptText: 'a cat', ratio: '1024:1024' }), 'referenceImages', /is required/);
  await refused(c.textToImage.create({ model: 'gen4_image', promptText: 'a cat', ratio: '1024:1024', referenceImages: [{ uri: 'https://x/a.jpg', tag: '1x' }] }), 'referenceImages[0].tag', /3 to 16/);
  await refused(c.textToSpeech.create({ model: 'eleven_multilingual_v2', promptText: 'hi', voice: { type: 'runway-preset', presetId: 'Nobody' } }), 'voice.presetId', /expected one of "Maya"/);
  await refused(c.voiceIsolation.create({ model: 'eleven_voice_isolation', audioUri: 'https://x/a.mp3?duration=3' }), 'audioUri', /lasts 3 s; this model takes 4.601 to 3599.999 s/);
  await refused(c.videoUpscale.create({ model: 'magnific_video_upscaler_creative', videoUri: 'https://x/a.mp4' }), 'model', /expected "upscale_v1"/);
  await refused(c.voiceDubbing.create({ model: 'eleven_voice_dubbing', audioUri: 'https://x/a.mp3', targetLang: 'xx' }), 'targetLang', /expected one of "en"/);
  await refused(c.speechToSpeech.create({ model: 'eleven_multilingual_sts_v2', media: { type: 'image', uri: 'https://x/a.png' }, voice: { type: 'runway-preset', presetId: 'Maya' } }), 'media.type', /"audio" or "video"/);
  await refused(c.characterPerformance.create({ model: 'act_two', character: { type: 'image', uri: 'https://x/a.png' }, reference: { type: 'video', uri: 'https://x/r.mp4?duration=31' } }), 'reference.uri', /3 to 30 s/);
});

// The estimatedCost of a create: from the answer, or from the refusal
// (this account has no credits: insufficient_credits), which carries the
// price it computed.
async function estimated(call) {
  try {
    const r = await call;
    return r.estimatedCost.credits;
  } catch (err) {
    assert.ok(err instanceof APIError, String(err));
    assert.ok(err.error?.estimatedCost, `no estimatedCost in ${JSON.stringify(err.error)}`);
    assert.equal(err.error.code, 'insufficient_credits');
    assert.equal(err.headers.get('x-should-retry'), 'false');
    return err.error.estimatedCost.credits;
  }
}

test('estimatedCost is the catalog\'s price, for every endpoint and model', async () => {
  const c = client(server);
  const image = 'https://example.com/a.jpg';
  const voice = { type: 'runway-preset', presetId: 'Maya' };
  const cases = [
    // video: credits per second of output
    [() => c.imageToVideo.create({ model: 'gen4_turbo', promptImage: image, ratio: '1280:720' }), 50],  // 10 s by default, 5/s
    [() => c.imageToVideo.create({ model: 'gen4_turbo', promptImage: [{ uri: image, position: 'first' }], ratio: '720:1280', duration: 5 }), 25],
    [() => c.imageToVideo.create({ model: 'gen4.5', promptImage: image, promptText: 'a cat', ratio: '960:960', duration: 5 }), 60],
    [() => c.imageToVideo.create({ model: 'veo3.1', promptImage: image, ratio: '1920:1080' }), 160],  // 8 s, 20/s
    [() => c.imageToVideo.create({ model: 'veo3.1', promptImage: image, ratio: '1920:1080', audio: true, duration: 4 }), 160],  // 40/s with audio
    [() => c.imageToVideo.create({ model: 'veo3.1_fast', promptImage: [{ uri: image, position: 'first' }, { uri: image, position: 'last' }], ratio: '1280:720', audio: true }), 120],
    [() => c.textToVideo.create({ model: 'gen4.5', promptText: 'a cat', ratio: '1280:720', duration: 10 }), 120],
    [() => c.textToVideo.create({ model: 'veo3.1_fast', promptText: 'a cat', ratio: '720:1280', duration: 6 }), 60],
    // images: per output, by resolution
    [() => c.textToImage.create({ model: 'gen4_image', promptText: 'a cat', ratio: '1920:1080' }), 8],
    [() => c.textToImage.create({ model: 'gen4_image', promptText: 'a cat', ratio: '1280:720' }), 5],
    [() => c.textToImage.create({ model: 'gen4_image_turbo', promptText: 'a cat', ratio: '1024:1024', referenceImages: [{ uri: image, tag: 'cat' }] }), 2],
    [() => c.textToImage.create({ model: 'gemini_2.5_flash', promptText: 'a cat', ratio: '1344:768' }), 5],
    // speech: 1 credit per 50 characters
    [() => c.textToSpeech.create({ model: 'eleven_multilingual_v2', promptText: 'x'.repeat(120), voice }), 3],
    [() => c.textToSpeech.create({ model: 'eleven_multilingual_v2', promptText: 'é'.repeat(50), voice }), 1],
    // audio tools: per block of input seconds (the simulated probe reads duration=, else 10 s)
    [() => c.voiceIsolation.create({ model: 'eleven_voice_isolation', audioUri: 'https://x/a.mp3?duration=12.5' }), 3],
    [() => c.voiceIsolation.create({ model: 'eleven_voice_isolation', audioUri: 'https://x/a.mp3' }), 2],
    [() => c.voiceDubbing.create({ model: 'eleven_voice_dubbing', audioUri: 'https://x/a.mp3#duration=7', targetLang: 'es' }), 4],
    [() => c.speechToSpeech.create({ model: 'eleven_multilingual_sts_v2', media: { type: 'video', uri: 'https://x/a.mp4' }, voice }), 4],
    // video tools: per second of the input clip
    [() => c.videoUpscale.create({ model: 'upscale_v1', videoUri: 'https://x/a.mp4?duration=4.2' }), 10],  // whole seconds started
    [() => c.characterPerformance.create({ model: 'act_two', character: { type: 'image', uri: image }, reference: { type: 'video', uri: 'https://x/r.mp4?duration=3' } }), 15],
  ];
  for (const [call, credits] of cases) assert.equal(await estimated(call()), credits);
});

test('purchases through the administration API are exact and idempotent', async () => {
  const first = await purchase(server, 'agency', '12.34', 'order-1');
  assert.deepEqual(first, { account: 'agency', usd: '12.34', credits: 1234, creditBalance: 1234, replayed: false });
  const again = await purchase(server, 'agency', '12.34', 'order-1');
  assert.equal(again.replayed, true);
  assert.equal(again.creditBalance, 1234);
  const conflict = await admin(server, '/admin/accounts/agency/purchase', { method: 'POST', body: { usd: '5.00', key: 'order-1' } });
  assert.equal(conflict.status, 409);
  assert.equal((await conflict.json()).code, 'idempotency_conflict');
  const account = await (await admin(server, '/admin/accounts/agency')).json();
  assert.deepEqual(account, { account: 'agency', creditBalance: 1234, heldCredits: 0, purchasedCredits: 1234, purchasedUsd: '12.34' });
});

test('the administration API refuses bad input and the API keys', async () => {
  const bad = [
    [{ usd: 100, key: 'k' }, /usd: expected a decimal string/],
    [{ usd: '1.0000001', key: 'k' }, /usd: /],
    [{ usd: '-5', key: 'k' }, /usd: /],
    [{ usd: '0', key: 'k' }, /usd: must be more than 0/],
    [{ usd: '5' }, /key: is required/],
    [{ usd: '5', key: 'has space' }, /key: expected 1 to 48/],
    [{ usd: '5', key: 'k', extra: 1 }, /extra: unknown field/],
  ];
  for (const [body, message] of bad) {
    const res = await admin(server, '/admin/accounts/studio/purchase', { method: 'POST', body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match((await res.json()).error, message);
  }
  const wrongKey = await api(server, '/admin/accounts/studio/purchase', { method: 'POST', body: { usd: '5', key: 'k' } });
  assert.equal(wrongKey.status, 401);
  const badAccount = await admin(server, '/admin/accounts/no%20spaces/purchase', { method: 'POST', body: { usd: '5', key: 'k' } });
  assert.equal(badAccount.status, 400);
  const metrics = await fetch(`${server.url}/metrics`);
  assert.equal(metrics.status, 401);
});

test('metrics are Prometheus text', async () => {
  const res = await admin(server, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0.0.4/);
  const text = await res.text();
  assert.match(text, /^# TYPE tollgate_http_responses_total counter$/m);
  assert.match(text, /^tollgate_http_responses_total\{class="4xx"\} \d+$/m);
  assert.match(text, /^tollgate_ledger_accounts \d+$/m);
});

test('the test clock moves only forward and only when manual', async () => {
  const before = await (await admin(server, '/admin/clock')).json();
  assert.deepEqual(before, { now: '2026-01-05T00:00:00.000Z', mode: 'manual' });
  const moved = await (await admin(server, '/admin/clock', { method: 'POST', body: { advanceMs: 90_000 } })).json();
  assert.equal(moved.now, '2026-01-05T00:01:30.000Z');
  const back = await admin(server, '/admin/clock', { method: 'POST', body: { advanceMs: -1 } });
  assert.equal(back.status, 400);
});

test('SIGTERM stops the server cleanly and a restart keeps the ledger', async () => {
  const s = await startServer(testConfig());
  await purchase(s, 'studio', '1.00', 'before-restart');
  const { code } = await s.stop();
  assert.equal(code, 0, s.stderr);
  assert.match(s.stderr, /stopped/);
  const again = await startServer(testConfig(), { dir: s.dir });
  try {
    const replay = await purchase(again, 'studio', '1.00', 'before-restart');
    assert.equal(replay.replayed, true);
    assert.equal(replay.creditBalance, 100);
  } finally {
    await again.dispose();
  }
});

test('SIGKILL loses no acknowledged purchase; a second server on the same journal is refused', async () => {
  const s = await startServer(testConfig());
  try {
    for (let i = 0; i < 20; ++i) await purchase(s, 'agency', '0.50', `kill-${i}`);
    const second = await startServer(testConfig(), { dir: s.dir }).catch((e) => e);
    assert.ok(second instanceof Error);
    assert.match(second.message, /exited with 1 before listening[\s\S]*another process .* has this journal open for writing/);
  } finally {
    s.proc.kill('SIGKILL');
    await s.exited;
  }
  const again = await startServer(testConfig(), { dir: s.dir });
  try {
    for (let i = 0; i < 20; ++i) assert.equal((await purchase(again, 'agency', '0.50', `kill-${i}`)).replayed, true);
    const account = await (await admin(again, '/admin/accounts/agency')).json();
    assert.equal(account.creditBalance, 20 * 50);
    assert.equal(account.purchasedUsd, '10.00');
  } finally {
    await again.dispose();
  }
});
