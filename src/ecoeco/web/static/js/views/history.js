// My scans (newest first, a page at a time) and my statistics.

import { api, errorMessage, query } from '../api.js';
import { categories, categoryLabel } from '../catalogue.js';
import { h, icon } from '../dom.js';
import { formatDate, t } from '../i18n.js';
import { currentUser } from '../session.js';
import { signInPanel } from './signin.js';

const PAGE = 20;

export async function historyView(main, _params, ctx) {
  if (!currentUser()) {
    main.append(h('h1', {}, t('history.title')), h('p', {}, t('history.signin')), signInPanel('/history'));
    return;
  }
  main.append(h('h1', {}, t('history.title')));
  const [stats, page, tree, owned] = await Promise.all([
    api('/users/me/stats', { signal: ctx.signal }),
    api(`/users/me/scans${query({ limit: PAGE })}`, { signal: ctx.signal }),
    categories().catch(() => null),
    api('/users/me/characters', { signal: ctx.signal }).catch(() => null),
  ]).catch((failure) => {
    if (failure.name === 'AbortError') throw failure;
    main.append(h('p', { class: 'form-error', role: 'alert' }, errorMessage(failure)));
    return [];
  });
  if (!stats) return;
  main.append(statsCard(stats, tree));
  if (owned) main.append(charactersCard(owned));

  const list = h('ul', { class: 'scan-list' });
  const more = h('button', { type: 'button', class: 'button wide' }, t('history.more'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const section = h('section', { 'aria-labelledby': 'scans-heading' }, h('h2', { id: 'scans-heading' }, t('history.list')), list, error);
  main.append(section);
  if (!page.items.length) {
    list.replaceWith(h('div', { class: 'empty card' },
      h('p', {}, t('history.empty')),
      h('a', { href: '/', class: 'button primary' }, icon('camera'), h('span', {}, t('history.emptyAction')))));
    return;
  }
  let cursor = page.next_cursor;
  const add = (items) => list.append(...items.map((scan) => scanRow(scan, tree)));
  add(page.items);
  if (cursor) section.append(more);
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const next = await api(`/users/me/scans${query({ limit: PAGE, cursor })}`);
      const firstNew = list.children.length;
      add(next.items);
      cursor = next.next_cursor;
      list.children[firstNew]?.querySelector('a')?.focus();
      if (!cursor) more.remove();
    } catch (failure) {
      error.textContent = errorMessage(failure);
    } finally {
      more.disabled = false;
    }
  });
}

function statsCard(stats, tree) {
  const top = stats.by_category.filter((c) => c.major).slice(0, 5);
  return h('section', { class: 'card stats', 'aria-labelledby': 'stats-heading' },
    h('h2', { id: 'stats-heading', class: 'visually-hidden' }, t('history.byCategory')),
    h('dl', { class: 'stat-grid' },
      h('div', { class: 'stat' }, h('dt', {}, t('history.total')), h('dd', {}, t('history.totalValue', { n: stats.total }))),
      h('div', { class: 'stat' }, h('dt', {}, t('history.streak')),
        h('dd', {}, t('history.days', { n: stats.current_streak_days }),
          h('span', { class: 'stat-sub' }, t('history.longest', { n: stats.longest_streak_days }))))),
    top.length
      ? h('div', {},
        h('h3', { class: 'small-heading' }, t('history.byCategory')),
        h('ul', { class: 'bars' }, top.map((c) => {
          const label = tree ? categoryLabel(tree, c.major, c.middle) : c.middle || c.major;
          return h('li', {},
            h('span', { class: 'bar-label' }, label),
            h('meter', { min: 0, max: top[0].count, value: c.count, 'aria-label': label }),
            h('span', { class: 'bar-count' }, t('history.countOf', { n: c.count })));
        })))
      : null);
}

// The characters earned by sorting right (the mascot comes with the account).
function charactersCard(owned) {
  return h('section', { class: 'card characters', 'aria-labelledby': 'characters-heading' },
    h('h2', { id: 'characters-heading', class: 'small-heading' },
      t('history.characters', { n: owned.owned.length, total: owned.total })),
    h('ul', { class: 'character-list' }, owned.owned.map((o) =>
      h('li', {}, h('strong', {}, o.character.name), ' ', h('span', { class: 'scan-meta' }, o.character.intro)))));
}

function scanRow(scan, tree) {
  const unsure = scan.status === 'done' && !scan.major;
  const title = scan.title || (unsure || scan.status === 'failed' ? t('history.unknown') : scan.question) || t('history.unknown');
  const category = tree && scan.major ? categoryLabel(tree, scan.major, scan.middle) : null;
  const state = unsure ? 'unsure' : scan.status;
  const thumb = scan.image_url
    ? h('img', { src: scan.image_url, alt: '', class: 'thumb', width: 56, height: 56, loading: 'lazy' })
    : h('span', { class: 'thumb thumb-question', 'aria-hidden': 'true' }, icon('chat'));
  return h('li', {},
    h('a', { href: `/scans/${scan.id}`, class: 'scan-row' },
      thumb,
      h('span', { class: 'scan-text' },
        h('span', { class: 'scan-title' }, title),
        scan.question && scan.title ? h('span', { class: 'scan-question' }, `“${scan.question}”`) : null,
        h('span', { class: 'scan-meta' }, [category, formatDate(scan.created_at, true)].filter(Boolean).join(' · '))),
      h('span', { class: `badge badge-${state}` }, t(`status.${state}`))));
}
