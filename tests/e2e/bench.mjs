// The page's benchmark (not a test): in Debian's Chromium against the Trunk build, the time from a
// photo chosen to its answer shown and of the forward pass alone (median, p95), and the bytes a
// first visit downloads (raw and gzip). `./dev bench [runs]`; figures go to the README.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ARTIFACTS, DIST, SHARED, butterflyPhoto, choosePhoto, launch, openPage, serve } from './harness.mjs';

const runs = Number(process.argv[2] ?? 40);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vlinder-bench-'));
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const summary = (xs) => ({ median: quantile(xs, 0.5), p95: quantile(xs, 0.95), n: xs.length });

const server = await serve();
const browser = await launch();
const context = await browser.newContext({ serviceWorkers: 'block' }); // count real downloads
const { page } = await openPage(context, server.origin);

// Bytes of a first visit: every file the page fetched, raw and gzip -9.
let raw = 0, gzip = 0;
const files = {};
for (const p of new Set(server.requests)) {
  const file = path.join(DIST, p === '/' ? 'index.html' : p);
  if (!fs.existsSync(file)) continue;
  const body = fs.readFileSync(file);
  const gz = zlib.gzipSync(body, { level: 9 }).length;
  raw += body.length; gzip += gz;
  files[p] = { raw: body.length, gzip: gz };
}

// Photos: a 320×240 PNG, a field-guide JPEG (when ../shared is there) and a 12-megapixel phone
// JPEG made from it by the browser's own encoder.
const photos = { 'png 320×240': path.join(tmp, 'butterfly.png') };
fs.writeFileSync(photos['png 320×240'], butterflyPhoto());
const guide = path.join(SHARED, 'field-guides/maniola_jurtina');
const source = fs.existsSync(guide) ? path.join(guide, fs.readdirSync(guide).sort()[0]) : photos['png 320×240'];
if (source !== photos['png 320×240']) photos['field-guide jpeg'] = source;
const phoneJpeg = await page.evaluate(async (b64) => {
  const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]));
  const canvas = new OffscreenCanvas(4000, 3000);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, 4000, 3000);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}, fs.readFileSync(source).toString('base64'));
photos['phone jpeg 4000×3000'] = path.join(tmp, 'phone.jpg');
fs.writeFileSync(photos['phone jpeg 4000×3000'], Buffer.from(phoneJpeg, 'base64'));

const endToEnd = {};
for (const [name, file] of Object.entries(photos)) {
  await choosePhoto(page, file); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) times.push(Number((await choosePhoto(page, file)).totalMs));
  endToEnd[name] = { ...summary(times), bytes: fs.statSync(file).size };
}
await choosePhoto(page, photos['png 320×240']);
const model = await page.textContent('#model-line');
await page.evaluate(() => window.vlinderBenchForward(20));
const forward = summary(await page.evaluate((n) => window.vlinderBenchForward(n), runs * 10));

const result = { model, browser: browser.version(), forward_ms: forward, photo_to_answer_ms: endToEnd, download: { raw, gzip, files } };
fs.mkdirSync(ARTIFACTS, { recursive: true });
fs.writeFileSync(path.join(ARTIFACTS, 'bench.json'), JSON.stringify(result, null, 2));
const f = (x) => x.toFixed(2);
console.log(`model: ${model}\nChromium ${browser.version()}, ${os.cpus().length} cores (${os.cpus()[0].model})\n`);
console.log('| measure | median ms | p95 ms |\n|---|---|---|');
console.log(`| forward pass alone (${forward.n} runs) | ${f(forward.median)} | ${f(forward.p95)} |`);
for (const [name, s] of Object.entries(endToEnd)) console.log(`| photo chosen → answer shown, ${name} (${(s.bytes / 1024).toFixed(0)} KiB, ${s.n} runs) | ${f(s.median)} | ${f(s.p95)} |`);
console.log(`\nfirst visit downloads ${(raw / 1e6).toFixed(2)} MB raw, ${(gzip / 1e6).toFixed(2)} MB gzip`);
for (const [p, s] of Object.entries(files)) console.log(`  ${p}: ${s.raw} B raw, ${s.gzip} B gzip`);
await browser.close();
await server.stop();
