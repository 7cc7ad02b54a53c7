// Schedules, environments, a deploy task's rollout (with its analysis charts) and a run's
// policy decisions.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { can, enc, get, post } from './api.js';

export function SchedulesPage({ me }) {
  const [ns, setNs] = useState('default');
  const [data, setData] = useState(null);
  const [msg, setMsg] = useState('');
  const load = () => get(`/api/v1/namespaces/${enc(ns)}/schedules`).then(setData, (e) => setMsg(e.message));
  useEffect(() => { setData(null); load(); }, [ns]);
  const act = (s, what) => async () => {
    setMsg('');
    try {
      const r = await post(`/api/v1/namespaces/${enc(ns)}/schedules/${enc(s.name)}/${what}`);
      if (what === 'trigger') location.hash = `#/runs/${enc(r.id)}`;
      else { setMsg(`${s.name}: ${what}d`); load(); }
    } catch (e) { setMsg(`${s.name}: ${e.message}`); }
  };
  return html`<section><h1>Schedules</h1>
    <label>Namespace <input value=${ns} onChange=${(e) => setNs(e.currentTarget.value)} /></label>
    ${msg && html`<p role="status">${msg}</p>`}
    ${!data ? html`<p>Loading…</p>` : !data.items.length ? html`<p>No schedule in ${ns}.</p>` : html`<table>
      <thead><tr><th scope="col">Name</th><th scope="col">Cron</th><th scope="col">Zone</th><th scope="col">Pipeline</th>
        <th scope="col">Next</th><th scope="col">Suspended</th><th scope="col">Active runs</th><th scope="col">Actions</th></tr></thead>
      <tbody>${data.items.map((s) => html`<tr><td>${s.name}</td><td class="mono">${s.cron}</td><td>${s.timeZone}</td>
        <td>${s.pipeline}</td><td>${s.next}</td><td>${String(s.suspended)}</td>
        <td>${(s.activeRuns || []).map((r) => html`<a href=${`#/runs/${enc(r)}`}>${r}</a> `)}</td>
        <td>${can(me, 'operate', ns) && html`<button onClick=${act(s, s.suspended ? 'resume' : 'suspend')}>${s.suspended ? 'Resume' : 'Suspend'}</button> `}
          ${can(me, 'submit', ns) && html`<button onClick=${act(s, 'trigger')}>Trigger now</button>`}</td></tr>`)}</tbody></table>`}
  </section>`;
}

export function EnvironmentsPage() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { get('/api/v1/environments').then(setData, (e) => setError(e.message)); }, []);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Environments</h1>
    ${!data ? html`<p>Loading…</p>` : !data.items.length ? html`<p>No environment is configured (STATE/environments).</p>` : html`<table>
      <thead><tr><th scope="col">Environment</th><th scope="col">Version</th><th scope="col">Slot</th><th scope="col">Since</th>
        <th scope="col">By</th><th scope="col">Rollout</th></tr></thead>
      <tbody>${data.items.map((e) => html`<tr><td>${e.environment}</td><td>${e.version}</td><td>${e.slot}</td>
        <td>${e.since}</td><td>${e.by}</td><td>${e.rollout}</td></tr>`)}</tbody></table>`}
  </section>`;
}

// One metric's measurements as a line over time.
function Chart({ name, points }) {
  const w = 360;
  const h = 90;
  const xs = points.map((p) => p.t);
  const ys = points.map((p) => p.v);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
  const sx = (t) => 30 + ((t - x0) / Math.max(1, x1 - x0)) * (w - 40);
  const sy = (v) => h - 15 - ((v - y0) / Math.max(1e-9, y1 - y0)) * (h - 25);
  return html`<figure class="chart"><figcaption>${name} (${points.length} measurements, last ${ys[ys.length - 1]})</figcaption>
    <svg width=${w} height=${h} role="img" aria-label=${`${name} over time`}>
      <line x1="30" y1=${h - 15} x2=${w - 10} y2=${h - 15} stroke="#999" />
      <text x="2" y="12" font-size="10">${y1}</text><text x="2" y=${h - 15} font-size="10">${y0}</text>
      <polyline fill="none" stroke="#0b57a4" stroke-width="2" points=${points.map((p) => `${sx(p.t)},${sy(p.v)}`).join(' ')} />
      ${points.map((p) => html`<circle cx=${sx(p.t)} cy=${sy(p.v)} r="3" fill=${p.phase === 'Failed' ? '#a40000' : '#0b57a4'} />`)}
    </svg></figure>`;
}

export function Rollout({ me, run, task }) {
  const [r, setR] = useState(null);
  const [msg, setMsg] = useState('');
  const load = () => get(`/api/v1/runs/${enc(run.id)}/rollouts/${enc(task)}`).then(setR, () => setR(null));
  useEffect(() => { load(); }, [run.id, task]);
  if (!r) return null;
  const cmd = (what) => async () => {
    try { await post(`/api/v1/runs/${enc(run.id)}/rollouts/${enc(task)}/${what}`, {}); setMsg(`${what}: sent`); load(); } catch (e) { setMsg(`${what}: ${e.message}`); }
  };
  const byMetric = {};
  for (const m of r.measurements) {
    if (typeof m.value !== 'number') continue;
    (byMetric[m.metric] = byMetric[m.metric] || []).push({ t: m.startedUs, v: m.value, phase: m.phase });
  }
  const ended = ['Healthy', 'Degraded'].includes(r.phase);
  return html`<h2>Rollout</h2>
    <dl class="summary"><dt>Environment</dt><dd>${r.environment}</dd><dt>Phase</dt><dd>${r.phase}</dd>
      <dt>Step</dt><dd>${r.step}</dd><dt>Message</dt><dd>${r.message || '—'}</dd>
      <dt>Last command</dt><dd>${r.lastCommand ? `${r.lastCommand} by ${r.lastCommandBy}` : '—'}</dd></dl>
    ${!ended && html`<div class="actions">
      ${can(me, 'approve', run.namespace) && html`<button onClick=${cmd('promote')}>Promote</button><button onClick=${cmd('resume')}>Resume</button>`}
      ${can(me, 'operate', run.namespace) && html`<button onClick=${cmd('pause')}>Pause</button><button onClick=${cmd('abort')}>Abort</button>`}</div>`}
    ${msg && html`<p role="status">${msg}</p>`}
    <div class="charts">${Object.entries(byMetric).map(([name, points]) => html`<${Chart} name=${name} points=${points} />`)}</div>`;
}

export function Decisions({ decisions }) {
  if (!decisions || !decisions.length) return null;
  return html`<h2>Policy decisions</h2><table>
    <thead><tr><th scope="col">Stage</th><th scope="col">Task</th><th scope="col">Policy</th><th scope="col">Rule</th>
      <th scope="col">Result</th><th scope="col">Waiver</th><th scope="col">Message</th></tr></thead>
    <tbody>${decisions.map((d) => html`<tr><td>${d.stage}</td><td>${d.task}</td><td>${d.policy}</td><td>${d.rule}</td>
      <td><span class=${`state state-${d.result === 'deny' ? 'failed' : d.result === 'allow' ? 'succeeded' : 'awaiting-approval'}`}>${d.result}</span></td>
      <td>${d.waiver}</td><td>${d.message}</td></tr>`)}</tbody></table>`;
}
