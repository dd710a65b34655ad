// Start-up: language, header and tabs, the service worker, who is signed in, then the first screen.

import { errorMessage } from './api.js';
import { h, icon } from './dom.js';
import { lang, setLang, t, translateStatic } from './i18n.js';
import { currentTab, render, route, start } from './router.js';
import { currentUser, loadUser, takeAfterSignIn } from './session.js';
import { toast } from './toast.js';
import { accountView } from './views/account.js';
import { historyView } from './views/history.js';
import { placesView } from './views/places.js';
import { categoryView, itemView, rulesView } from './views/rules.js';
import { homeView, scanView } from './views/scan.js';
import { signInView } from './views/signin.js';

route('/', homeView, 'scan');
route('/scans/:id', scanView, 'scan');
route('/history', historyView, 'history');
route('/places', placesView, 'places');
route('/rules', rulesView, 'rules');
route('/rules/c/:id', categoryView, 'rules');
route('/rules/items/:id', itemView, 'rules');
route('/account', accountView, 'account');
route('/signin', signInView, 'account');

function updateHeader() {
  const user = currentUser();
  const link = document.getElementById('account-link');
  link.replaceChildren(icon('user'), h('span', {}, user ? user.nickname : t('header.signin')));
  link.href = user ? '/account' : '/signin';
  if (user) link.setAttribute('aria-label', t('header.account', { name: user.nickname }));
  else link.removeAttribute('aria-label');
  const switcher = document.getElementById('lang-switch');
  switcher.lang = lang() === 'ko' ? 'en' : 'ko';
  switcher.lastChild.textContent = t('lang.switch');
  switcher.setAttribute('aria-label', t('lang.switchLabel'));
}

function updateTabs(tab) {
  for (const link of document.querySelectorAll('.tabs a')) {
    if (link.dataset.tab === tab) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function watchConnection() {
  const banner = document.getElementById('offline-banner');
  const update = () => {
    banner.hidden = navigator.onLine;
  };
  window.addEventListener('offline', update);
  window.addEventListener('online', () => {
    update();
    toast(t('online.back'));
  });
  update();
}

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
    // Without it the app still works online; only offline browsing is lost.
  });
}

async function boot() {
  translateStatic();
  watchConnection();
  registerServiceWorker();
  document.getElementById('lang-switch').addEventListener('click', () => setLang(lang() === 'ko' ? 'en' : 'ko'));
  document.addEventListener('userchange', updateHeader);
  document.addEventListener('routechange', (event) => updateTabs(event.detail));
  document.addEventListener('langchange', () => {
    translateStatic();
    updateHeader();
    render();
  });

  // Back from a provider: either signed in (cookies set) or with ?auth_error=<code>.
  const params = new URLSearchParams(location.search);
  const authError = params.get('auth_error');
  if (authError) {
    params.delete('auth_error');
    history.replaceState(null, '', location.pathname + (params.size ? `?${params}` : ''));
  }
  try {
    await loadUser();
  } catch (failure) {
    toast(errorMessage(failure));
  }
  updateHeader();
  if (authError) toast(`${t('signin.failed')} ${errorMessage({ code: authError })}`);
  const next = currentUser() && location.pathname === '/' ? takeAfterSignIn() : null;
  if (next && next !== '/') history.replaceState(null, '', next);
  await start();
  updateTabs(currentTab());
  performance.mark('ecoeco:interactive'); // the first screen is drawn and answers input
}

boot();
