// Browse the rules knowledge base: categories → items → an item's full guide, and search. Needs no
// account, and works offline once the service worker has saved the rules.

import { errorMessage } from '../api.js';
import { allItems, categories, findCategory, itemGuide, itemName, nameOf, searchItems } from '../catalogue.js';
import { h, icon } from '../dom.js';
import { lang, t } from '../i18n.js';

// Ask the service worker to keep every rule for offline use, once per language and page load.
const warmed = new Set();
function offlineNote() {
  const note = h('p', { class: 'muted offline-note', role: 'status' });
  const worker = navigator.serviceWorker;
  if (!worker) return note;
  const key = lang();
  const ready = () => {
    note.textContent = '';
    note.append(icon('check'), ` ${t('rules.offlineReady')}`);
  };
  if (warmed.has(key)) {
    ready();
    return note;
  }
  note.textContent = t('rules.offlineSaving');
  const onMessage = (event) => {
    if (event.data?.type === 'rules-ready' && event.data.lang === key) {
      warmed.add(key);
      worker.removeEventListener('message', onMessage);
      ready();
    }
  };
  worker.addEventListener('message', onMessage);
  worker.ready.then((registration) => registration.active?.postMessage({ type: 'warm-rules', lang: key }));
  return note;
}

function failure(main, error) {
  main.append(h('p', { class: 'form-error', role: 'alert' }, errorMessage(error)));
}

function searchBox(initial = '') {
  const input = h('input', { id: 'rules-q', type: 'search', name: 'q', autocomplete: 'off', placeholder: t('rules.searchPlaceholder') });
  input.value = initial;
  const results = h('div', { class: 'search-results' });
  const form = h('form', { class: 'card', role: 'search', novalidate: true },
    h('label', { for: 'rules-q' }, t('rules.search')),
    h('div', { class: 'input-row' }, input,
      h('button', { type: 'submit', class: 'button' }, icon('search'), h('span', {}, t('rules.searchSubmit')))));
  let controller = null;
  const run = async () => {
    const q = input.value.trim();
    controller?.abort();
    if (!q) {
      results.replaceChildren();
      return;
    }
    controller = new AbortController();
    try {
      const items = await searchItems(q, { limit: 20, signal: controller.signal });
      const heading = h('h2', { id: 'rules-results' }, t('rules.results', { q }));
      results.replaceChildren(
        h('section', { 'aria-labelledby': 'rules-results' }, heading,
          items.length ? itemList(items) : h('p', { role: 'status' }, t('rules.noResults', { q }))));
    } catch (error) {
      if (error.name !== 'AbortError') results.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, errorMessage(error)));
    }
  };
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(timer);
    run();
  });
  return { form, results };
}

function itemList(items) {
  return h('ul', { class: 'item-list' }, items.map((item) =>
    h('li', {}, h('a', { href: `/rules/items/${encodeURIComponent(item.id)}` },
      h('span', {}, itemName(item)),
      item.matched && item.matched !== itemName(item) ? h('span', { class: 'muted' }, ` · ${item.matched}`) : null))));
}

export async function rulesView(main, _params, ctx) {
  main.append(h('h1', {}, t('rules.title')), h('p', { class: 'lead' }, t('rules.lead')), offlineNote());
  const search = searchBox(ctx.query.get('q') ?? '');
  main.append(search.form, search.results);
  let tree;
  try {
    tree = await categories();
  } catch (error) {
    failure(main, error);
    return;
  }
  main.append(h('section', { 'aria-labelledby': 'categories-heading' },
    h('h2', { id: 'categories-heading' }, t('rules.categories')),
    tree.majors.map((major) => h('section', { class: 'major', 'aria-labelledby': `major-${major.id}` },
      h('h3', { id: `major-${major.id}` }, h('a', { href: `/rules/c/${major.id}` }, nameOf(major))),
      h('p', { class: 'muted' }, major.summary),
      major.middles.length
        ? h('ul', { class: 'tiles' }, major.middles.map((middle) => h('li', {},
          h('a', { href: `/rules/c/${middle.id}`, class: 'tile' },
            h('span', { class: 'tile-name' }, nameOf(middle)),
            h('span', { class: 'tile-meta' }, t('rules.items', { n: middle.item_count }))))))
        : null))));
}

export async function categoryView(main, { id }) {
  let tree;
  let items;
  try {
    [tree, items] = await Promise.all([categories(), allItems()]);
  } catch (error) {
    main.append(h('h1', {}, t('rules.title')));
    failure(main, error);
    return;
  }
  const found = findCategory(tree, id);
  if (!found) {
    main.append(h('h1', {}, t('notfound.title')), h('p', {}, h('a', { href: '/rules' }, t('rules.back'))));
    return;
  }
  const inside = items.filter((item) => item.major === id || item.middle === id);
  main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/rules' }, icon('back'), h('span', {}, t('rules.back')))),
    h('h1', {}, nameOf(found.node)),
    found.node !== found.major ? h('p', { class: 'muted' }, nameOf(found.major)) : null,
    h('p', { class: 'lead' }, found.node.summary),
    offlineNote(),
    h('section', { 'aria-labelledby': 'items-heading' },
      h('h2', { id: 'items-heading' }, t('rules.items', { n: inside.length })), itemList(inside)));
}

export async function itemView(main, { id }) {
  let guide;
  try {
    guide = await itemGuide(id);
  } catch (error) {
    main.append(h('h1', {}, error.status === 404 ? t('notfound.title') : t('rules.title')));
    failure(main, error);
    main.append(h('p', {}, h('a', { href: '/rules' }, t('rules.back'))));
    return;
  }
  const other = lang() === 'en' ? guide.name_ko : guide.name_en;
  const list = (items, cls, render) => h('ul', { class: cls }, items.map(render));
  const block = (key, title, body) => h('section', { class: 'result-section', 'aria-labelledby': key }, h('h2', { id: key }, title), body);
  main.append(
    h('p', { class: 'breadcrumb' },
      h('a', { href: `/rules/c/${encodeURIComponent(guide.middle.id)}` }, icon('back'), h('span', {}, guide.middle.name))),
    h('article', { class: 'card result-card guide' },
      h('h1', {}, lang() === 'en' ? guide.name_en : guide.name_ko, h('span', { class: 'other-name', lang: lang() === 'en' ? 'ko' : 'en' }, other)),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, t('result.category')), h('dd', {}, `${guide.major.name} › ${guide.middle.name}`)),
        h('div', {}, h('dt', {}, t('result.bin')), h('dd', { class: 'bin' }, guide.bin))),
      h('p', { class: 'reply' }, guide.summary),
      block('guide-steps', t('result.steps'), h('ol', { class: 'steps' }, guide.steps.map((step) => h('li', {}, step.text)))),
      guide.situations.length
        ? block('guide-situations', t('rules.situations'), h('dl', { class: 'situations' }, guide.situations.map((s) =>
          h('div', {}, h('dt', {}, s.name), h('dd', {}, s.prep, s.instead ? h('span', { class: 'instead' }, ` ${t('rules.goesTo', { instead: s.instead })}`) : null)))))
        : null,
      guide.not_accepted.length
        ? block('guide-not', t('result.notAccepted'), list(guide.not_accepted, 'not-accepted', (item) => h('li', {},
          h('span', { class: 'what' }, item.what),
          h('span', { class: 'instead' }, t('result.insteadTo', { instead: item.instead, bin: item.bin })))))
        : null,
      guide.notes.length ? block('guide-notes', t('result.notes'), list(guide.notes, 'notes', (note) => h('li', {}, note))) : null,
      guide.synonyms.length ? h('p', { class: 'muted' }, `${t('rules.synonyms')}: ${guide.synonyms.join(', ')}`) : null,
    ),
    offlineNote(),
  );
}
