// My profile (nickname), language, sign-out, and deleting the account after a confirmation.

import { api, errorMessage } from '../api.js';
import { h } from '../dom.js';
import { formatDate, lang, LANGS, setLang, t } from '../i18n.js';
import { navigate } from '../router.js';
import { currentUser, deleteAccount, setUser, signOut } from '../session.js';
import { toast } from '../toast.js';
import { signInPanel } from './signin.js';

const LANGUAGE_NAMES = { ko: '한국어', en: 'English' };

function languageField() {
  return h('fieldset', { class: 'field' },
    h('legend', {}, t('account.language')),
    h('div', { class: 'segmented' }, LANGS.map((code) => h('label', { class: 'segment', lang: code },
      h('input', {
        type: 'radio', name: 'language', value: code, checked: code === lang(),
        onchange: () => setLang(code),
      }),
      h('span', {}, LANGUAGE_NAMES[code])))));
}

export async function accountView(main) {
  const user = currentUser();
  main.append(h('h1', {}, t('account.title')));
  if (!user) {
    main.append(signInPanel('/account'), h('section', { class: 'card' }, languageField()));
    return;
  }

  const nickname = h('input', { id: 'nickname', name: 'nickname', maxlength: 20, required: true, autocomplete: 'nickname', 'aria-describedby': 'nickname-hint' });
  nickname.value = user.nickname;
  const saved = h('p', { class: 'status-line', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'button primary' }, t('account.save'));
  const profile = h('form', { class: 'card stack', novalidate: true, 'aria-labelledby': 'profile-heading' },
    h('h2', { id: 'profile-heading' }, t('account.profile')),
    h('div', { class: 'field' },
      h('label', { for: 'nickname' }, t('account.nickname')),
      h('p', { id: 'nickname-hint', class: 'hint' }, t('account.nicknameHint')),
      h('div', { class: 'input-row' }, nickname, save)),
    error, saved,
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, t('account.signedInWith')),
        h('dd', {}, user.providers.map((p) => t(`provider.${p}`)).join(', '))),
      h('div', {}, h('dt', {}, t('account.since')), h('dd', {}, formatDate(user.created_at)))));
  profile.addEventListener('submit', async (event) => {
    event.preventDefault();
    saved.textContent = '';
    error.textContent = '';
    const value = nickname.value.trim();
    if (!value) {
      error.textContent = t('error.validation-failed');
      nickname.focus();
      return;
    }
    save.disabled = true;
    try {
      const updated = await api('/users/me', { method: 'PATCH', json: { nickname: value } });
      setUser(updated);
      nickname.value = updated.nickname;
      saved.textContent = t('account.saved');
    } catch (failure) {
      error.textContent = errorMessage(failure);
    } finally {
      save.disabled = false;
    }
  });

  const signOutButton = h('button', { type: 'button', class: 'button wide' }, t('account.signout'));
  signOutButton.addEventListener('click', async () => {
    signOutButton.disabled = true;
    try {
      await signOut();
    } catch {
      // The session is forgotten here either way; the server revokes it when it can.
    }
    toast(t('account.signedOut'));
    await navigate('/');
  });

  const dialogError = h('p', { class: 'form-error', role: 'alert' });
  const confirm = h('button', { type: 'button', class: 'button danger' }, t('account.deleteConfirm'));
  const cancel = h('button', { type: 'button', class: 'button' }, t('account.cancel'));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'delete-title', 'aria-describedby': 'delete-lead' },
    h('h2', { id: 'delete-title' }, t('account.deleteConfirmTitle')),
    h('p', { id: 'delete-lead' }, t('account.deleteLead')),
    dialogError,
    h('div', { class: 'button-row end' }, cancel, confirm));
  const open = h('button', { type: 'button', class: 'button danger-outline' }, t('account.delete'));
  open.addEventListener('click', () => {
    dialogError.textContent = '';
    dialog.showModal();
    cancel.focus();
  });
  cancel.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      await deleteAccount();
      dialog.close();
      toast(t('account.deleted'));
      await navigate('/');
    } catch (failure) {
      dialogError.textContent = errorMessage(failure);
    } finally {
      confirm.disabled = false;
    }
  });

  main.append(
    profile,
    h('section', { class: 'card' }, languageField()),
    h('section', { class: 'card stack' }, signOutButton),
    h('section', { class: 'card stack danger-zone', 'aria-labelledby': 'danger-heading' },
      h('h2', { id: 'danger-heading' }, t('account.danger')),
      h('p', {}, t('account.deleteLead')),
      open),
    dialog,
  );
}
