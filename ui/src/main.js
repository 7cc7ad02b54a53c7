// The web UI of sluice server (docs/ui.md): a login page, then pages chosen by the URL's hash
// (#/runs, #/runs/ID, #/runs/ID/tasks/NAME, #/approvals, #/breakers, #/waivers, #/schedules,
// #/environments, #/chaos, #/chaos/ID, #/audit).
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { can, login, logout, session, whenLoggedOut } from './api.js';
import { RunsPage } from './runs.js';
import { RunPage } from './run.js';
import { TaskPage } from './task.js';
import { ApprovalsPage, AuditPage, BreakersPage, WaiversPage } from './govern.js';
import { EnvironmentsPage, SchedulesPage } from './more.js';
import { ChaosPage, ExperimentPage } from './chaos.js';
import './style.css';

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/runs');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/runs');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ onIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      onIn(await login(token.trim()));
      setToken('');
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<main class="login">
    <h1>Sluice</h1>
    <form onSubmit=${submit}>
      <label for="token">API token</label>
      <input id="token" type="password" autocomplete="off" value=${token}
        onInput=${(e) => setToken(e.currentTarget.value)} placeholder="sluice.ID.SECRET" required />
      <button type="submit">Log in</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <p class="hint">The token is exchanged for a session cookie; it is kept by the server, never in this page.</p>
    </form>
  </main>`;
}

function Page({ hash, me }) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'runs' && parts[1] && parts[2] === 'tasks' && parts[3]) {
    return html`<${TaskPage} me=${me} runId=${parts[1]} task=${parts.slice(3).join('/')} />`;
  }
  if (parts[0] === 'runs' && parts[1]) return html`<${RunPage} me=${me} runId=${parts[1]} />`;
  if (parts[0] === 'approvals') return html`<${ApprovalsPage} me=${me} />`;
  if (parts[0] === 'breakers') return html`<${BreakersPage} me=${me} />`;
  if (parts[0] === 'waivers') return html`<${WaiversPage} me=${me} />`;
  if (parts[0] === 'audit') return html`<${AuditPage} me=${me} />`;
  if (parts[0] === 'schedules') return html`<${SchedulesPage} me=${me} />`;
  if (parts[0] === 'environments') return html`<${EnvironmentsPage} me=${me} />`;
  if (parts[0] === 'chaos' && parts[1]) return html`<${ExperimentPage} id=${parts.slice(1).join('/')} />`;
  if (parts[0] === 'chaos') return html`<${ChaosPage} />`;
  return html`<${RunsPage} me=${me} />`;
}

function App() {
  const [me, setMe] = useState(undefined);  // undefined: asking; null: logged out
  const hash = useHash();
  useEffect(() => {
    whenLoggedOut(() => setMe(null));
    session().then(setMe, () => setMe(null));
  }, []);
  if (me === undefined) return html`<p class="loading">Loading…</p>`;
  if (me === null) return html`<${Login} onIn=${setMe} />`;
  const link = (href, text) => html`<a href=${href} aria-current=${hash.startsWith(href) ? 'page' : undefined}>${text}</a>`;
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/runs">Sluice</a>
      <nav aria-label="pages">${link('#/runs', 'Runs')} ${link('#/approvals', 'Approvals')}
        ${link('#/breakers', 'Breakers')} ${link('#/waivers', 'Waivers')} ${link('#/schedules', 'Schedules')}
        ${link('#/environments', 'Environments')} ${link('#/chaos', 'Chaos')}
        ${can(me, 'admin') && link('#/audit', 'Audit')}</nav>
      <span class="who">${me.user} · ${Object.entries(me.roles).map(([ns, r]) => `${ns}: ${r}`).join(', ')}</span>
      <button onClick=${async () => { await logout().catch(() => {}); setMe(null); }}>Log out</button>
    </header>
    <main><${Page} hash=${hash} me=${me} /></main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
