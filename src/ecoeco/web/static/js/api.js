// The API client: cookies from the web sign-in flow (HttpOnly, never read here), the CSRF header on every
// write, the chosen language, RFC 9457 problems turned into ApiError, one silent refresh of an expired
// access token, and retries of requests that are safe to repeat (GETs, POSTs with an Idempotency-Key).

import { has, lang, t } from './i18n.js';
import { sleep } from './dom.js';

export const API = '/api/v1';
const CSRF_COOKIE = 'ecoeco_csrf';

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (status ? `http-${status}` : 'network');
    this.detail = problem.detail || '';
    this.problem = problem;
  }
}

// A message for the person, in their language: ours for the codes we know, else the server's detail.
export function errorMessage(error) {
  const code = error?.code;
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  if (error?.status === 401) return t('error.unauthorized');
  if (error?.status >= 500) return t('error.server');
  if (code?.startsWith('upload-')) return t('error.upload-failed');
  return error?.detail || t('error.generic');
}

export function csrfToken() {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return found ? decodeURIComponent(found.slice(CSRF_COOKIE.length + 1)) : null;
}

// The CSRF cookie lives exactly as long as the session's refresh token: no cookie, no session.
export function hasSession() {
  return csrfToken() !== null;
}

export function forgetSession() {
  const secure = location.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname);
  document.cookie = `${CSRF_COOKIE}=; Max-Age=0; Path=/; SameSite=Lax${secure ? '; Secure' : ''}`;
}

export async function problemOf(response) {
  const type = response.headers.get('content-type') || '';
  if (!type.includes('json')) return { status: response.status };
  try {
    return await response.json();
  } catch {
    return { status: response.status };
  }
}

let refreshing = null;

// Rotating the refresh token twice with the same value would revoke the session (reuse detection), so
// one refresh at a time: per page through a shared promise, across tabs through a Web Lock.
function refreshSession() {
  const run = async () => {
    const token = csrfToken();
    if (!token) return false;
    try {
      const r = await fetch(`${API}/auth/refresh`, {
        method: 'POST',
        headers: { 'X-CSRF-Token': token, Accept: 'application/json' },
        credentials: 'same-origin',
      });
      return r.ok;
    } catch {
      return false;
    }
  };
  refreshing ??= (navigator.locks ? navigator.locks.request('ecoeco-refresh', run) : run()).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// The raw exchange: { status, data, headers }. Throws ApiError for network failures and error statuses.
export async function request(path, options = {}) {
  const { method = 'GET', json, body, headers = {}, idempotencyKey, signal, retried = false } = options;
  const sent = { Accept: 'application/json, application/problem+json', 'Accept-Language': lang(), ...headers };
  let payload = body;
  if (json !== undefined) {
    sent['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) sent['X-CSRF-Token'] = token;
  }
  if (idempotencyKey) sent['Idempotency-Key'] = idempotencyKey;
  const attempts = method === 'GET' || idempotencyKey ? 3 : 1;
  let response;
  for (let attempt = 1; ; attempt += 1) {
    try {
      response = await fetch(API + path, { method, headers: sent, body: payload, credentials: 'same-origin', signal });
      break;
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      if (attempt >= attempts || !navigator.onLine) {
        throw new ApiError(0, { code: navigator.onLine ? 'network' : 'offline' });
      }
      await sleep(300 * 3 ** attempt);
    }
  }
  if (response.status === 401 && !retried && hasSession() && (await refreshSession())) {
    return request(path, { ...options, retried: true });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const data = response.status === 204 ? null : await response.json();
  return { status: response.status, data, headers: response.headers };
}

export async function api(path, options) {
  return (await request(path, options)).data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
