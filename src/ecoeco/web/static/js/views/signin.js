// Sign-in buttons for the providers this server has configured (GET /auth/providers).

import { errorMessage } from '../api.js';
import { h, icon } from '../dom.js';
import { t } from '../i18n.js';
import { currentUser, signIn, signInProviders } from '../session.js';
import { navigate } from '../router.js';

export function signInPanel(next = location.pathname, level = 'h2') {
  const list = h('div', { class: 'providers' }, h('p', { class: 'muted' }, t('common.loading')));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const panel = h('section', { class: 'card signin', 'aria-labelledby': 'signin-heading' },
    h(level, { id: 'signin-heading' }, t('signin.title')),
    h('p', {}, t('signin.lead')),
    list,
    error,
  );
  signInProviders().then(
    (providers) => {
      list.replaceChildren();
      if (!providers.length) list.append(h('p', {}, t('signin.none')));
      for (const provider of providers) {
        const button = h('button', {
          type: 'button',
          class: `button provider provider-${provider}`,
          onclick: async () => {
            button.disabled = true;
            error.textContent = '';
            try {
              await signIn(provider, next);
              list.setAttribute('aria-busy', 'true');
              error.textContent = t('signin.redirecting');
            } catch (failure) {
              error.textContent = errorMessage(failure);
              button.disabled = false;
            }
          },
        }, t('signin.with', { provider: t(`provider.${provider}`) }));
        list.append(button);
      }
    },
    (failure) => {
      list.replaceChildren();
      error.textContent = errorMessage(failure);
    },
  );
  return panel;
}

export async function signInView(main) {
  if (currentUser()) {
    await navigate('/', { replace: true });
    return;
  }
  main.append(signInPanel('/', 'h1'));
  main.append(
    h('p', { class: 'muted center' },
      icon('book'), ' ', h('a', { href: '/rules' }, t('scan.browseRules')), ' · ',
      icon('pin'), ' ', h('a', { href: '/places' }, t('scan.findPlaces'))),
  );
}
