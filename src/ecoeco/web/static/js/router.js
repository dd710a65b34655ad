// Paths, not fragments: every screen has a real URL the server answers with the same shell, so links can
// be shared and the back button works. Each render gets an AbortSignal that fires when the person leaves.

import { h } from './dom.js';
import { t } from './i18n.js';

const routes = [];
let active = null;
let rendered = false;

export function route(pattern, view, tab) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  routes.push({ regex: new RegExp(`^${source}$`), names, view, tab });
}

function match(path) {
  for (const r of routes) {
    const found = r.regex.exec(path);
    if (found) {
      const params = Object.fromEntries(r.names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { ...r, params };
    }
  }
  return null;
}

export function isAppPath(path) {
  return match(path) !== null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

export function currentTab() {
  return match(location.pathname)?.tab ?? null;
}

export async function render() {
  active?.abort();
  const controller = new AbortController();
  active = controller;
  const main = document.getElementById('main');
  const found = match(location.pathname);
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    const view = found ? found.view : notFound;
    await view(main, found ? found.params : {}, {
      signal: controller.signal,
      query: new URLSearchParams(location.search),
    });
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
  } finally {
    if (active === controller) main.removeAttribute('aria-busy');
  }
  if (active !== controller) return;
  document.dispatchEvent(new CustomEvent('routechange', { detail: found?.tab ?? null }));
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · ${t('app.name')}` : t('app.name');
  // Move focus to the new screen's heading, as a page load would, except on the first load.
  if (rendered && heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  rendered = true;
}

export function notFound(main) {
  main.append(
    h('h1', {}, t('notfound.title')),
    h('p', {}, h('a', { href: '/', class: 'button' }, t('notfound.home'))),
  );
}

export function start() {
  window.addEventListener('popstate', () => render());
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const link = event.target.closest('a[href]');
    if (!link || link.target || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !isAppPath(url.pathname)) return;
    event.preventDefault();
    if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
  });
  return render();
}
