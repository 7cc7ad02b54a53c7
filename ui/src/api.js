// The API as the page reaches it: same-origin requests that carry the session cookie (the
// browser adds it; script never sees it), and the session's CSRF token on every write.
let csrf = '';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, url, body) {
  const headers = {};
  if (method !== 'GET') headers['X-Sluice-CSRF'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json() : await res.text();
  if (!res.ok) {
    const message = data && data.error ? data.error.message : `${res.status} ${res.statusText}`;
    if (res.status === 401 && onLoggedOut) onLoggedOut();
    throw new ApiError(res.status, message);
  }
  return { data, headers: res.headers };
}

let onLoggedOut = null;
export function whenLoggedOut(fn) { onLoggedOut = fn; }

export const get = async (url) => (await request('GET', url)).data;
export const getWithHeaders = (url) => request('GET', url);
export const post = async (url, body) => (await request('POST', url, body)).data;

export async function login(token) {
  const me = await post('/ui/login', { token });
  csrf = me.csrf;
  return me;
}
export async function session() {
  const me = await get('/ui/session');
  csrf = me.csrf;
  return me;
}
export async function logout() {
  await post('/ui/logout');
  csrf = '';
}

// What the session may do in namespace `ns`: the server's own answer ("may" of /ui/session and
// the login, from its role table; docs/server.md, "Namespaces and roles"), so the page keeps no
// copy of the table. The API refuses what a role may not do anyway.
export function can(me, action, ns = 'default') {
  if (!me || !me.may) return false;
  const actions = me.may[ns] ?? me.may['*'];
  return !!actions && actions.includes(action);
}

export const enc = encodeURIComponent;
