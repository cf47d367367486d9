// The page, end to end, in Debian's Chromium against the Trunk build (dist/) served on 127.0.0.1.
// Run by `./dev test` after `trunk build --release`; the screenshot goes to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ARTIFACTS, DIST, MODEL, SHARED, butterflyPhoto, choosePhoto, hugePhoto, launch, openPage, predict, serve, wallPhoto,
} from './harness.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vlinder-e2e-'));
const write = (name, bytes) => { const file = path.join(tmp, name); fs.writeFileSync(file, bytes); return file; };
const photos = {
  butterfly: write('butterfly.png', butterflyPhoto()),
  wall: write('wall.png', wallPhoto()),
  huge: write('huge.png', hugePhoto()),
  truncated: write('truncated.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0])),
};
// A real photo of a meadow brown, when the shared data is beside the repository.
const shared = path.join(SHARED, 'field-guides/maniola_jurtina');
const realPhoto = fs.existsSync(shared) ? path.join(shared, fs.readdirSync(shared).sort()[0]) : null;

let server, browser, context;
const foreign = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'dist/ is missing: run `trunk build --release` first');
  server = await serve();
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
  // Every request the page or its workers make, wherever it goes.
  context.on('request', (r) => {
    const url = new URL(r.url());
    if (!['blob:', 'data:'].includes(url.protocol) && url.origin !== server.origin) foreign.push(r.url());
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page loads the shipped model with no console errors', async () => {
  const { page, errors } = await openPage(context, server.origin);
  assert.match(await page.textContent('#model-line'), /baseline|lite0/);
  assert.equal(await page.textContent('h1'), ' Which brown butterfly?');
  assert.equal(await page.getAttribute('#photo', 'capture'), 'environment');
  assert.equal(await page.$eval('#status', (s) => s.classList.contains('error')), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a photo gets the same answer as `vlinder predict`', async () => {
  const { page, errors } = await openPage(context, server.origin);
  const cases = [photos.butterfly, photos.wall];
  if (realPhoto) cases.push(realPhoto);
  else console.log('SKIPPED real-photo case: ../shared/data/field-guides not found');
  for (const photo of cases) {
    const answer = await choosePhoto(page, photo);
    const expected = predict(photo);
    const ids = Object.keys(expected).sort();
    const shown = JSON.parse(answer.probabilities);
    assert.equal(shown.length, ids.length);
    ids.forEach((id, i) => assert.ok(Math.abs(shown[i] - expected[id]) < 1e-4, `${path.basename(photo)} ${id}: page ${shown[i]} vs predict ${expected[id]}`));
    const top = ids.reduce((a, b) => (expected[b] > expected[a] ? b : a));
    assert.equal(answer.top, top, path.basename(photo));
    assert.equal(await page.locator('#bars li').count(), ids.length);
    // The crop the model saw is drawn.
    const drawn = await page.$eval('#crop', (c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0));
    assert.ok(drawn, 'crop canvas is empty');
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('a non-butterfly image gets the not-sure state', async () => {
  const { page } = await openPage(context, server.origin);
  const answer = await choosePhoto(page, photos.wall);
  assert.equal(answer.state, 'not_sure', `verdict ${answer.verdict}, top ${answer.top}: ${answer.verdictText}`);
  assert.equal(await page.isVisible('#names'), false, 'no species is named');
  assert.equal(await page.isVisible('#hint'), true);
  await page.close();
});

test('bad photos and bad model files give clear messages and keep the model', async () => {
  const { page, errors } = await openPage(context, server.origin);
  const modelLine = await page.textContent('#model-line');
  await choosePhoto(page, photos.huge);
  assert.match(await page.textContent('#status'), /too large \(60000×60000 pixels\)/);
  await choosePhoto(page, photos.truncated);
  assert.match(await page.textContent('#status'), /damaged or incomplete/);

  const cutOff = fs.readFileSync(MODEL).subarray(0, 5000); // a download that stopped early
  await page.setInputFiles('#model-file', { name: 'broken.vlinder', mimeType: 'application/octet-stream', buffer: cutOff });
  await page.waitForFunction(() => document.getElementById('model-status').textContent !== '');
  assert.match(await page.textContent('#model-status'), /cannot be used: .*incomplete.*previous model is still in use/);
  assert.equal(await page.textContent('#model-line'), modelLine);
  const answer = await choosePhoto(page, photos.butterfly);
  assert.equal(answer.hidden, false, 'still classifies with the previous model');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the augmentation sliders and the random button change the preview', async () => {
  const { page } = await openPage(context, server.origin);
  await choosePhoto(page, photos.butterfly);
  await page.click('#augment summary');
  const pixels = () => page.$eval('#preview', (c) => c.toDataURL());
  const original = await pixels();
  assert.equal(original, await page.$eval('#crop', (c) => c.toDataURL()), 'identity preview = the crop');
  await page.fill('#rotation', '90');
  await page.waitForFunction(() => JSON.parse(document.getElementById('preview').dataset.settings ?? '{}').rotation === 90);
  const rotated = await pixels();
  assert.notEqual(rotated, original);
  await page.click('#random');
  await page.waitForFunction(() => JSON.parse(document.getElementById('preview').dataset.settings).rotation !== 90);
  const settings = JSON.parse(await page.getAttribute('#preview', 'data-settings'));
  assert.ok(Math.abs(settings.rotation) <= 40 && Math.abs(settings.width_shift) <= 0.2, JSON.stringify(settings));
  assert.notEqual(await pixels(), rotated);
  await page.click('#reset');
  await page.waitForFunction(() => JSON.parse(document.getElementById('preview').dataset.settings).rotation === 0);
  assert.equal(await pixels(), original);
  await page.close();
});

test('Dutch browsers get the Dutch page, and the switch changes language', async () => {
  const dutch = await browser.newContext({ locale: 'nl-NL' });
  const { page } = await openPage(dutch, server.origin);
  assert.equal(await page.textContent('h1 span'), 'Welke bruine vlinder?');
  assert.equal(await page.getAttribute('html', 'lang'), 'nl');
  await page.click('#language');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.textContent('h1 span'), 'Which brown butterfly?');
  await dutch.close();
});

test('after one visit the page works with the server stopped', async () => {
  const offline = await browser.newContext();
  offline.on('request', (r) => { if (!r.url().startsWith(server.origin) && !/^(blob|data):/.test(r.url())) foreign.push(r.url()); });
  const { page } = await openPage(offline, server.origin);
  await page.waitForSelector('#offline:not([hidden])', { timeout: 30_000 });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  const origin = server.origin;
  await server.stop();
  try {
    await page.reload();
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
    const answer = await choosePhoto(page, photos.butterfly);
    assert.equal(answer.hidden, false);
    assert.ok(answer.top);
  } finally {
    // Serve again on a new port for any later test; this context is done.
    await offline.close();
    server = await serve();
    assert.notEqual(server.origin, origin);
  }
});

test('a phone-sized screenshot', async () => {
  const { page } = await openPage(context, server.origin);
  await choosePhoto(page, realPhoto ?? photos.butterfly);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, 'phone-360x740.png');
  await page.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 10_000);
  // Nothing is wider than the phone.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360));
  await page.close();
});

test('no request ever went to another origin', () => {
  assert.deepEqual(foreign, []);
});
