// Who is signed in. The tokens themselves are HttpOnly cookies this script never sees; what it keeps is
// the profile from GET /users/me and whether a session cookie pair exists at all.

import { api, ApiError, forgetSession, hasSession, query } from './api.js';

let user = null;
let providers = null;

export function currentUser() {
  return user;
}

function changed() {
  document.dispatchEvent(new CustomEvent('userchange', { detail: user }));
}

export async function loadUser() {
  if (!hasSession()) {
    user = null;
  } else {
    try {
      user = await api('/users/me');
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      user = null;
    }
  }
  changed();
  return user;
}

export function setUser(next) {
  user = next;
  changed();
}

export async function signInProviders() {
  providers ??= (await api('/auth/providers')).providers;
  return providers;
}

const AFTER_SIGN_IN = 'ecoeco.after-sign-in';

// The web flow: the server keeps the PKCE verifier and binds the attempt to this browser with a cookie,
// then the provider sends the browser back to our callback, which sets the session cookies and returns
// here. JSON mode (rather than a bare redirect) lets us show a refusal on our own page.
export async function signIn(provider, next = '/') {
  const params = { return_to: `${location.origin}/` };
  const start = await api(`/auth/${encodeURIComponent(provider)}/authorize${query(params)}`);
  const target = new URL(start.authorization_url, location.href);
  if (!['https:', 'http:'].includes(target.protocol)) throw new ApiError(0, { code: 'unknown-provider' });
  try {
    sessionStorage.setItem(AFTER_SIGN_IN, next);
  } catch {
    // Without storage the person lands on the home screen, which is fine.
  }
  location.assign(target.href);
}

export function takeAfterSignIn() {
  try {
    const next = sessionStorage.getItem(AFTER_SIGN_IN);
    sessionStorage.removeItem(AFTER_SIGN_IN);
    return next && next.startsWith('/') && !next.startsWith('//') ? next : null;
  } catch {
    return null;
  }
}

export async function signOut() {
  try {
    await api('/auth/logout', { method: 'POST' });
  } finally {
    forgetSession();
    setUser(null);
  }
}

export async function deleteAccount() {
  await api('/users/me', { method: 'DELETE' });
  // Every session of the account is revoked by the server; drop this one's cookie so the page stops
  // presenting a session that no longer exists.
  forgetSession();
  setUser(null);
}
