// Offline support. The build (www/service-worker.sh, a Trunk post-build hook) fills in VERSION —
// a hash of every file of the build — and ASSETS, the list of those files. A new build is a new
// cache: it is filled completely before it takes over, and the old one is then deleted, so the
// page never runs a mix of two builds.
const VERSION = '__VERSION__';
const ASSETS = __ASSETS__;
const CACHE = `vlinder-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(['./', ...ASSETS])).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('vlinder-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Cache first for this origin's GET requests; nothing else is ever requested.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => (await cache.match(event.request, { ignoreSearch: true })) ?? fetch(event.request)),
  );
});
