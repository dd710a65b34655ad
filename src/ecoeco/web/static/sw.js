// The service worker: the app shell from the cache (so the app opens offline), the rules API network
// first with a cached copy as the fallback (so browsing the rules works offline), nothing personal kept.
// Rendered by the server: VERSION is a digest of the static files, SHELL the URLs of this version.

const VERSION = '%VERSION%';
const SHELL = %SHELL%;
const SHELL_CACHE = `ecoeco-shell-${VERSION}`;
const RULES_CACHE = 'ecoeco-rules';
const RULES = '/api/v1/recycling/';
const APP_PATHS = /^\/($|signin$|history$|places$|account$|rules($|\/)|scans\/)/;
const WARM_PARALLEL = 4;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('ecoeco-shell-') && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function offline() {
  const body = JSON.stringify({ type: 'about:blank', title: 'Offline', status: 503, code: 'offline', detail: 'You are offline.' });
  return new Response(body, { status: 503, headers: { 'Content-Type': 'application/problem+json' } });
}

async function networkFirst(request, cacheName, fallback = request) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(fallback, response.clone());
    return response;
  } catch {
    return (await cache.match(fallback)) ?? offline();
  }
}

async function cacheFirst(request) {
  return (await caches.match(request)) ?? fetch(request);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (APP_PATHS.test(url.pathname)) event.respondWith(networkFirst(request, SHELL_CACHE, '/'));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.startsWith(RULES)) {
    event.respondWith(networkFirst(request, RULES_CACHE));
  }
});

// Keep every rule of one language: the category tree, the item catalogue and each item's guide, requested
// exactly as the page requests them (same URLs, same Accept-Language) so the page finds them offline.
async function warmRules(lang) {
  const cache = await caches.open(RULES_CACHE);
  const keep = async (path) => {
    const request = new Request(RULES + path, { headers: { Accept: 'application/json, application/problem+json', 'Accept-Language': lang } });
    const response = await fetch(request);
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    await cache.put(request, response.clone());
    return response;
  };
  await keep('categories');
  const ids = [];
  let cursor = null;
  do {
    const page = await (await keep(`items?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json();
    ids.push(...page.items.map((item) => item.id));
    cursor = page.next_cursor;
  } while (cursor);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      await keep(`items/${encodeURIComponent(id)}`);
    }
  };
  await Promise.all(Array.from({ length: WARM_PARALLEL }, worker));
  return ids.length;
}

self.addEventListener('message', (event) => {
  if (event.data?.type !== 'warm-rules' || !['ko', 'en'].includes(event.data.lang)) return;
  const { lang } = event.data;
  event.waitUntil(warmRules(lang).then(
    (items) => event.source?.postMessage({ type: 'rules-ready', lang, items }),
    () => event.source?.postMessage({ type: 'rules-failed', lang }),
  ));
});
