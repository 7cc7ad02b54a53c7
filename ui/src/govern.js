// Approvals (approve and reject for approvers), breakers (open, close, reset for operators),
// waivers, and the audit log with its verification state (admins).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { can, enc, get, post } from './api.js';
import { follow, position } from './live.js';

function useLoad(url, deps = []) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const load = () => get(url).then(setData, (e) => setError(e.message));
  useEffect(() => { load(); }, deps);
  return [data, error, load];
}

// Whether the user may approve in some namespace: the list spans namespaces, and the API
// judges each vote in its run's own.
const mayApprove = (me) => Object.values(me.may || {}).some((actions) => actions.includes('approve'));

export function ApprovalsPage({ me }) {
  const [data, error, load] = useLoad('/api/v1/approvals');
  const [msg, setMsg] = useState('');
  // A request made or decided anywhere shows up at once.
  useEffect(() => {
    let stop = () => {};
    position().then((pos) => {
      stop = follow('/api/v1/events/stream', pos, (ev) => {
        if (ev.kind === 'approval.requested' || ev.kind === 'approval.decided') load();
      });
    }, () => {});
    return () => stop();
  }, []);
  const vote = (a, how) => async () => {
    setMsg('');
    try {
      const r = await post(`/api/v1/runs/${enc(a.run)}/tasks/${enc(a.task)}/${how}`, {});
      setMsg(`${a.task}: ${how}d by ${r.by} (${r.approvals} of ${r.quorum})`);
      load();
    } catch (e) { setMsg(`${a.task}: ${e.message}`); }
  };
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Approvals</h1>
    ${msg && html`<p role="status" data-testid="vote-result">${msg}</p>`}
    ${!data ? html`<p>Loading…</p>` : !data.items.length ? html`<p>No pending approval.</p>` : html`<table>
      <thead><tr><th scope="col">Run</th><th scope="col">Task</th><th scope="col">Approvers</th>
        <th scope="col">Votes</th><th scope="col">Requested</th><th scope="col">Deadline</th>
        <th scope="col">Instructions</th><th scope="col">Actions</th></tr></thead>
      <tbody>${data.items.map((a) => { const r = a.request || {}; return html`<tr data-approval=${a.task}>
        <td><a href=${`#/runs/${enc(a.run)}`}>${a.run}</a></td><td><a href=${`#/runs/${enc(a.run)}/tasks/${enc(a.task)}`}>${a.task}</a></td>
        <td>${(r.approvers || []).join(', ')}</td><td>${a.votes.filter((v) => v.approve).length} of ${r.quorum ?? 1}</td>
        <td>${a.requested}</td><td>${a.deadline || '—'}</td><td>${r.instructions || ''}</td>
        <td>${mayApprove(me)
          ? html`<button onClick=${vote(a, 'approve')}>Approve</button> <button onClick=${vote(a, 'reject')}>Reject</button>`
          : html`<span>viewing only</span>`}</td></tr>`; })}</tbody></table>`}
  </section>`;
}

export function BreakersPage({ me }) {
  const [data, error, load] = useLoad('/api/v1/breakers');
  const [msg, setMsg] = useState('');
  const order = (b, what) => async () => {
    try { await post(`/api/v1/breakers/${enc(b.name)}/${what}`); setMsg(`${b.name}: ${what}`); load(); } catch (e) { setMsg(e.message); }
  };
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Breakers</h1>${msg && html`<p role="status">${msg}</p>`}
    ${!data ? html`<p>Loading…</p>` : !data.items.length ? html`<p>No breaker has been used.</p>` : html`<table>
      <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Details</th><th scope="col">Actions</th></tr></thead>
      <tbody>${data.items.map((b) => html`<tr data-breaker=${b.name}><td>${b.name}</td><td data-testid="breaker-state">${b.state}</td>
        <td><pre class="json">${JSON.stringify(b, null, 1)}</pre></td>
        <td>${can(me, 'operate') && ['open', 'close', 'reset'].map((w) => html`<button onClick=${order(b, w)}>${w}</button> `)}</td></tr>`)}</tbody></table>`}
  </section>`;
}

export function WaiversPage() {
  const [data, error] = useLoad('/api/v1/waivers');
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Waivers</h1>
    ${!data ? html`<p>Loading…</p>` : !data.items.length ? html`<p>No waiver in force.</p>` : html`<table>
      <thead><tr><th scope="col">Name</th><th scope="col">Policy</th><th scope="col">Granted by</th><th scope="col">Expires</th><th scope="col">Justification</th></tr></thead>
      <tbody>${data.items.map((w) => html`<tr data-waiver=${w.name}><td>${w.name}</td><td>${w.policy}${w.rule ? `/${w.rule}` : ''}</td>
        <td>${w.grantedBy}</td><td>${w.expires}</td><td>${w.justification}</td></tr>`)}</tbody></table>`}
  </section>`;
}

export function AuditPage() {
  const [verify, error] = useLoad('/api/v1/audit/verify');
  const [lines, setLines] = useState(null);
  useEffect(() => {
    fetch('/api/v1/audit/export', { credentials: 'same-origin' }).then((r) => r.text()).then((t) =>
      setLines(t.split('\n').filter(Boolean).map((l) => JSON.parse(l)).reverse().slice(0, 200)), () => {});
  }, []);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Audit log</h1>
    ${verify && html`<p role="status" class=${verify.ok ? 'ok' : 'error'} data-testid="audit-verify">
      ${verify.ok ? `verified: ${verify.records} records chain to head ${verify.head.slice(0, 16)}…`
    : `broken at record ${verify.brokenAt}: ${verify.why}`}</p>`}
    ${lines && html`<table><caption>the newest ${lines.length} records</caption>
      <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Run</th><th scope="col">Subject</th></tr></thead>
      <tbody>${lines.map((r) => html`<tr><td>${r.seq}</td><td>${r.time}</td><td>${r.actor}</td><td>${r.action}</td><td>${r.run}</td><td>${r.subject}</td></tr>`)}</tbody></table>`}
  </section>`;
}
