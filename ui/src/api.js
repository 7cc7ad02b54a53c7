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

// The roles of docs/server.md, "Namespaces and roles": what each may do.
const ACTIONS = {
  viewer: ['read'],
  operator: ['read', 'submit', 'operate'],
  approver: ['read', 'approve'],
  admin: ['read', 'submit', 'operate', 'approve', 'admin'],
  worker: ['work'],
};
export function can(me, action, ns = 'default') {
  if (!me) return false;
  const role = me.roles[ns] ?? me.roles['*'];
  return !!role && (ACTIONS[role] || []).includes(action);
}

export const enc = encodeURIComponent;
