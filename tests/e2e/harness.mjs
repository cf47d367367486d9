// What the page tests and the benchmark share: a static server for the Trunk build, Debian's
// Chromium driven by playwright-core, test photos made on the fly, and `vlinder predict`.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist');
export const MODEL = path.join(ROOT, 'www/model/default.vlinder');
export const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
export const SHARED = path.resolve(ROOT, '../shared/data');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.vlinder': 'application/octet-stream',
};

/** Serves `dir` on 127.0.0.1 (a free port); `requests` records every path asked for. */
export async function serve(dir = DIST) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push(url.pathname);
    let file = path.join(dir, decodeURIComponent(url.pathname));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404).end('not found'); return; }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const stop = () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); });
  return { origin, requests, stop };
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A PNG of `width × height` whose pixel (x, y) is `pixel(x, y) → [r, g, b]`. */
export function png(width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(x, y).map((v) => Math.max(0, Math.min(255, Math.round(v)))), y * (width * 3 + 1) + 1 + x * 3);
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A brown butterfly-ish shape on green leaves: orange-brown wings with dark eyespots. */
export function butterflyPhoto(width = 320, height = 240) {
  return png(width, height, (x, y) => {
    const u = (x - width / 2) / (width / 3), v = (y - height / 2) / (height / 3);
    const wing = (Math.abs(u) - 0.5) ** 2 / 0.25 + v ** 2 / 0.6 < 1;
    const spot = (Math.abs(u) - 0.55) ** 2 + (v + 0.3) ** 2 < 0.02;
    const pupil = (Math.abs(u) - 0.55) ** 2 + (v + 0.3) ** 2 < 0.003;
    if (pupil) return [245, 245, 240];
    if (spot) return [20, 15, 10];
    if (wing) return [150 + 60 * Math.sin(u * 3), 90 + 20 * v, 35];
    return [60 + 20 * Math.sin(x / 7), 110 + 30 * Math.cos(y / 9), 40];
  });
}

/** Not a butterfly: a grey-blue checkerboard, like a tiled wall. */
export function wallPhoto(width = 300, height = 300) {
  return png(width, height, (x, y) => ((Math.floor(x / 25) + Math.floor(y / 25)) % 2 ? [200, 205, 215] : [120, 125, 140]));
}

/** A PNG header claiming 60000×60000 pixels (3.6 gigapixels), with valid checksums. */
export function hugePhoto() {
  const small = png(1, 1, () => [0, 0, 0]);
  small.writeUInt32BE(60000, 16);
  small.writeUInt32BE(60000, 20);
  small.writeUInt32BE(zlib.crc32(small.subarray(12, 29)), 29);
  return small;
}

/** `vlinder predict --json` on `photo` with `model`: probabilities by class id. */
export function predict(photo, model = MODEL) {
  const bin = process.env.VLINDER ?? path.join(ROOT, 'target/debug/vlinder');
  const out = execFileSync(bin, ['predict', '--model', model, '--top', '100', '--json', photo], { encoding: 'utf8' });
  const [result] = JSON.parse(out).photos ?? JSON.parse(out);
  return Object.fromEntries(result.top.map((r) => [r.class, r.probability]));
}

/** Opens the page and waits until the model is loaded; collects console errors. */
export async function openPage(context, origin) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  return { page, errors };
}

/** Chooses `file` with the photo input and waits for the answer; returns the answer's data. */
export async function choosePhoto(page, file) {
  const answered = await page.evaluate(() => Number(document.body.dataset.answered ?? 0));
  await page.setInputFiles('#photo', file);
  await page.waitForFunction((n) => Number(document.body.dataset.answered ?? 0) > n, answered, { timeout: 30_000 });
  await page.$eval('#photo', (input) => { input.value = ''; }); // choosing the same file again fires change
  return page.$eval('#answer', (a) => ({ ...a.dataset, hidden: a.hidden, verdictText: document.getElementById('verdict').textContent }));
}
