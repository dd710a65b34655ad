// The rules knowledge base as the page needs it: the category tree (for names), the whole item list
// (for browsing by category and searching offline) and search. Responses are cached by the browser
// (ETag, max-age) and by the service worker for offline use, so the URLs must stay exactly these.

import { api, query } from './api.js';
import { lang } from './i18n.js';

const PAGE = 100;
const trees = new Map();
const lists = new Map();

export function categories() {
  const key = lang();
  if (!trees.has(key)) {
    trees.set(key, api('/recycling/categories').catch((error) => {
      trees.delete(key);
      throw error;
    }));
  }
  return trees.get(key);
}

export function nameOf(node) {
  return lang() === 'en' ? node.name_en : node.name_ko;
}

// Major or middle category by id, with its parent for a middle.
export function findCategory(tree, id) {
  for (const major of tree.majors) {
    if (major.id === id) return { node: major, major };
    const middle = major.middles.find((m) => m.id === id);
    if (middle) return { node: middle, major };
  }
  return null;
}

export function categoryLabel(tree, majorId, middleId) {
  const major = majorId ? findCategory(tree, majorId) : null;
  const middle = middleId ? findCategory(tree, middleId) : null;
  const parts = [];
  if (major) parts.push(nameOf(major.node));
  if (middle && middle.node !== major?.node) parts.push(nameOf(middle.node));
  return parts.join(' › ');
}

export function allItems() {
  const key = lang();
  if (!lists.has(key)) {
    const load = async () => {
      const items = [];
      let cursor = null;
      do {
        const page = await api(`/recycling/items?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        items.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return items;
    };
    lists.set(key, load().catch((error) => {
      lists.delete(key);
      throw error;
    }));
  }
  return lists.get(key);
}

export function itemName(item) {
  return lang() === 'en' ? item.name_en : item.name_ko;
}

const squash = (text) => text.toLowerCase().replace(/\s+/g, '');

// The server's search knows Korean particles, spacing and synonyms; offline we fall back to substring
// matches over the names we have, names before synonyms and prefixes before the rest.
function localScore(item, needle) {
  let best = 0;
  for (const [names, weight] of [[[item.name_ko, item.name_en], 2], [item.synonyms, 1]]) {
    for (const name of names.map(squash)) {
      if (name === needle) best = Math.max(best, weight * 3);
      else if (name.startsWith(needle)) best = Math.max(best, weight * 2);
      else if (name.includes(needle)) best = Math.max(best, weight);
    }
  }
  return best;
}

export async function searchItems(q, { limit = 8, signal } = {}) {
  try {
    return (await api(`/recycling/items${query({ q, limit })}`, { signal })).items;
  } catch (error) {
    if (error.name === 'AbortError' || (error.code !== 'offline' && error.code !== 'network')) throw error;
    const needle = squash(q);
    const scored = (await allItems()).map((item) => [localScore(item, needle), item]).filter(([score]) => score > 0);
    return scored.sort((a, b) => b[0] - a[0]).slice(0, limit).map(([, item]) => item);
  }
}

export function itemGuide(id) {
  return api(`/recycling/items/${encodeURIComponent(id)}`);
}
