// Collection points nearest first, from the browser's location (asked only when the button is pressed)
// or from a place typed in. Without a geocoder, "a place" is found among the collection points
// themselves (/locations/search matches names and addresses, 구/동 included) and its point becomes the
// origin. Each point links to Kakao Map and Naver Map with its coordinates; no map tiles are loaded.

import { api, errorMessage, query } from '../api.js';
import { categories, findCategory, nameOf } from '../catalogue.js';
import { h, icon } from '../dom.js';
import { formatDistance, t } from '../i18n.js';

// Categories a collection point can accept (the knowledge base's ids, as the locations API uses them).
const CATEGORIES = ['battery', 'lamp', 'clothing', 'electronics', 'clear_pet', 'paper_pack', 'paper', 'plastic',
  'vinyl', 'styrofoam', 'glass_bottle', 'metal', 'food', 'hazardous', 'bulky'];
const LIMIT = 20;

// Remembered while the tab lives, so coming back to this screen shows the same search.
const remembered = { origin: null, category: '', openNow: false };

export async function placesView(main, _params, ctx) {
  const tree = await categories().catch(() => null);
  const label = (id) => {
    const found = tree && findCategory(tree, id);
    return found ? nameOf(found.node) : id;
  };
  const status = h('p', { class: 'status-line', role: 'status' }, t('places.start'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const results = h('ol', { class: 'place-list' });

  const locate = h('button', { type: 'button', class: 'button primary wide' }, icon('locate'), h('span', {}, t('places.locate')));
  const place = h('input', { id: 'place', type: 'search', name: 'place', autocomplete: 'off', 'aria-describedby': 'place-hint' });
  const placeForm = h('form', { class: 'inline-form', role: 'search', novalidate: true },
    h('div', { class: 'field grow' },
      h('label', { for: 'place' }, t('places.place')),
      h('p', { id: 'place-hint', class: 'hint' }, t('places.placeHint')),
      h('div', { class: 'input-row' }, place,
        h('button', { type: 'submit', class: 'button' }, icon('search'), h('span', {}, t('places.placeSubmit'))))));
  const category = h('select', { id: 'category', name: 'category' },
    h('option', { value: '' }, t('places.anyCategory')),
    CATEGORIES.map((id) => h('option', { value: id, selected: id === remembered.category }, label(id))));
  const openNow = h('input', { id: 'open-now', type: 'checkbox', checked: remembered.openNow });
  const filters = h('div', { class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'category' }, t('places.category')), category),
    h('div', { class: 'check' }, openNow, h('label', { for: 'open-now' }, t('places.openNow'))));

  main.append(
    h('h1', {}, t('places.title')),
    h('p', { class: 'lead' }, t('places.lead')),
    h('section', { class: 'card stack' }, locate, placeForm, filters),
    error,
    h('section', { 'aria-labelledby': 'places-results' },
      h('h2', { id: 'places-results', class: 'visually-hidden' }, t('places.title')), status, results),
  );

  const search = async ({ reveal = false } = {}) => {
    const origin = remembered.origin;
    if (!origin) return;
    error.textContent = '';
    results.setAttribute('aria-busy', 'true');
    try {
      const params = { lat: origin.lat.toFixed(6), lon: origin.lon.toFixed(6), limit: LIMIT, category: remembered.category, open_now: remembered.openNow };
      const page = await api(`/locations${query(params)}`, { signal: ctx.signal });
      const where = origin.name ? t('places.near', { name: origin.name }) : t('places.nearMe');
      status.textContent = `${where} · ${t('places.count', { n: page.items.length })}`;
      results.replaceChildren(...page.items.map((point) => placeCard(point, label)));
      if (!page.items.length) results.append(h('li', { class: 'empty' }, t('places.none')));
      // On a phone the list starts below the search card: bring it into view after a new search.
      if (reveal) status.scrollIntoView({ block: 'start' });
    } catch (failure) {
      if (failure.name === 'AbortError') return;
      error.textContent = errorMessage(failure);
    } finally {
      results.removeAttribute('aria-busy');
    }
  };

  locate.addEventListener('click', () => {
    if (!('geolocation' in navigator)) {
      error.textContent = t('places.unavailable');
      return;
    }
    locate.disabled = true;
    status.textContent = t('places.locating');
    navigator.geolocation.getCurrentPosition(
      (position) => {
        locate.disabled = false;
        remembered.origin = { lat: position.coords.latitude, lon: position.coords.longitude, name: null };
        search({ reveal: true });
      },
      (failure) => {
        locate.disabled = false;
        status.textContent = '';
        error.textContent = failure.code === failure.PERMISSION_DENIED ? t('places.denied') : t('places.unavailable');
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 },
    );
  });
  placeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const q = place.value.trim();
    if (!q) {
      place.focus();
      return;
    }
    error.textContent = '';
    try {
      const found = await api(`/locations/search${query({ q, limit: 1 })}`, { signal: ctx.signal });
      if (!found.items.length) {
        status.textContent = '';
        error.textContent = t('places.placeNone', { q });
        return;
      }
      const [first] = found.items;
      remembered.origin = { lat: first.lat, lon: first.lon, name: first.name };
      await search({ reveal: true });
    } catch (failure) {
      if (failure.name !== 'AbortError') error.textContent = errorMessage(failure);
    }
  });
  category.addEventListener('change', () => {
    remembered.category = category.value;
    search();
  });
  openNow.addEventListener('change', () => {
    remembered.openNow = openNow.checked;
    search();
  });
  if (remembered.origin) await search();
}

function openState(today) {
  if (!today) return { text: t('places.hoursUnknown'), state: 'unknown' };
  let hours = null;
  if (today.hours?.length === 1 && today.hours[0] === '00:00-24:00') hours = t('places.allDay');
  else if (today.hours?.length) hours = t('places.today', { hours: today.hours.join(', ') });
  else if (today.hours) hours = t('places.closedToday');
  const now = today.open_now === true ? t('places.openNowYes') : today.open_now === false ? t('places.openNowNo') : t('places.openUnknown');
  const state = today.open_now === true ? 'open' : today.open_now === false ? 'closed' : 'unknown';
  return { text: [now, hours, today.note].filter(Boolean).join(' · '), state };
}

function mapLinks(point) {
  const name = encodeURIComponent(point.name);
  const kakao = `https://map.kakao.com/link/map/${name},${point.lat},${point.lon}`;
  const naver = `https://map.naver.com/p/search/${name}?c=${point.lon},${point.lat},17,0,0,0,dh`;
  const link = (href, text) => h('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'button small' },
    icon('external'), h('span', {}, text), h('span', { class: 'visually-hidden' }, ` ${t('places.newWindow')}`));
  return h('p', { class: 'button-row' }, link(kakao, t('places.kakao')), link(naver, t('places.naver')));
}

function placeCard(point, label) {
  const open = openState(point.today);
  const address = point.road_address || point.lot_address;
  return h('li', { class: 'card place' },
    h('div', { class: 'place-head' },
      h('h3', {}, point.name),
      point.distance_m !== null && point.distance_m !== undefined
        ? h('span', { class: 'distance' }, formatDistance(point.distance_m))
        : null),
    h('p', { class: `open open-${open.state}` }, open.text),
    address ? h('p', { class: 'muted' }, address) : null,
    point.categories.length
      ? h('ul', { class: 'tags', 'aria-label': t('places.accepts') }, point.categories.map((c) => h('li', {}, label(c))))
      : null,
    mapLinks(point));
}
