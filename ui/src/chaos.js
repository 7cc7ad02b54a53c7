// Chaos experiments (docs/chaos.md): the list `sluice chaos ls` shows, and one experiment's
// journal (hypothesis, phases, faults, method, outcome) with its resilience report. The report
// is the server's page (GET …/report), framed here: same origin, so the browser sends the
// session cookie; its own policy (sandbox, no script) keeps it inert.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { enc, get } from './api.js';

const base = '/api/v1/chaos/experiments';

function Outcome({ status, deviated }) {
  const cls = status === 'completed' && !deviated ? 'succeeded' : status === 'interrupted' ? 'cancelled' : 'failed';
  return html`<span class=${`state state-${cls}`} data-testid="outcome">${status}${deviated ? ', deviated' : ''}</span>`;
}

function useJson(url) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { setData(null); setError(''); get(url).then(setData, (e) => setError(e.message)); }, [url]);
  return [data, error];
}

export function ChaosPage() {
  const [data, error] = useJson(base);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  return html`<section><h1>Chaos experiments</h1>
    ${!data ? html`<p>Loading…</p>` : !data.items.length
    ? html`<p>No experiment has run on this server's state folder (<span class="mono">sluice chaos run</span>).</p>`
    : html`<table class="experiments">
      <thead><tr><th scope="col">Experiment</th><th scope="col">Name</th><th scope="col">Started</th><th scope="col">Outcome</th></tr></thead>
      <tbody>${data.items.map((x) => html`<tr data-experiment=${x.id}>
        <td><a href=${`#/chaos/${enc(x.id)}`}>${x.id}</a></td><td>${x.name}</td><td>${x.start}</td>
        <td><${Outcome} status=${x.status} deviated=${x.deviated} /></td></tr>`)}</tbody></table>`}
  </section>`;
}

const met = (s) => (s ? html`<span class="state state-${s.steady_state_met ? 'succeeded' : 'failed'}">${s.steady_state_met ? 'met' : 'not met'}</span>` : '—');
const show = (v) => (v === undefined || v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function ProbeRuns({ caption, runs }) {
  if (!runs || !runs.length) return null;
  return html`<table><caption>${caption}</caption>
    <thead><tr><th scope="col">Probe</th><th scope="col">Status</th><th scope="col">Value</th><th scope="col">Within tolerance</th></tr></thead>
    <tbody>${runs.map((r) => html`<tr><td>${r.activity && r.activity.name}</td>
      <td><span class=${`state state-${r.status === 'succeeded' ? 'succeeded' : 'failed'}`}>${r.status}</span></td>
      <td class="mono">${show(r.output)}${r.exception ? html` <span class="error">${r.exception.join(' ')}</span>` : ''}</td>
      <td>${show(r.tolerance_met)}</td></tr>`)}</tbody></table>`;
}

export function ExperimentPage({ id }) {
  const [j, error] = useJson(`${base}/${enc(id)}`);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!j) return html`<p>Loading…</p>`;
  const x = j.experiment || {};
  const s = j.sluice || {};
  const hyp = x['steady-state-hypothesis'] || {};
  const states = j.steady_states || {};
  const runs = s.runs || [];
  const report = `${base}/${enc(id)}/report`;
  return html`<section><h1>Experiment ${s.name || id}</h1>
    <dl class="summary"><dt>Title</dt><dd>${x.title || '—'}</dd><dt>Description</dt><dd>${x.description || '—'}</dd>
      <dt>Id</dt><dd class="mono">${id}</dd><dt>Outcome</dt><dd><${Outcome} status=${j.status} deviated=${j.deviated} /></dd>
      <dt>Started</dt><dd>${j.start}</dd><dt>Duration</dt><dd>${Number(j.duration || 0).toFixed(1)} s</dd></dl>
    <h2>Hypothesis: ${hyp.title || 'steady state'}</h2>
    <table data-testid="hypothesis"><thead><tr><th scope="col">Probe</th><th scope="col">Tolerance</th></tr></thead>
      <tbody>${(hyp.probes || []).map((p) => html`<tr><td>${p.name}</td><td class="mono">${p.tolerance || '—'}</td></tr>`)}</tbody></table>
    <h2>Phases</h2>
    <table data-testid="phases"><thead><tr><th scope="col">Phase</th><th scope="col">Start</th><th scope="col">End</th>
      <th scope="col">Runs</th><th scope="col">Succeeded</th><th scope="col">Retries</th><th scope="col">Steady state</th></tr></thead>
      <tbody>${(s.phases || []).map((p) => {
        const mine = runs.filter((r) => r.phase === p.name);
        const state = p.name === 'during' ? (states.during || [])[(states.during || []).length - 1] : states[p.name];
        return html`<tr data-phase=${p.name}><td>${p.name}</td><td>${p.start}</td><td>${p.end}</td><td>${mine.length}</td>
          <td>${mine.filter((r) => r.status === 'succeeded').length}</td><td>${mine.reduce((n, r) => n + (r.retries || 0), 0)}</td>
          <td>${met(state)}</td></tr>`; })}</tbody></table>
    <${ProbeRuns} caption="Hypothesis before the faults" runs=${states.before && states.before.probes} />
    ${(states.during || []).map((d, i, all) => html`<${ProbeRuns} caption=${`Hypothesis during the faults${all.length > 1 ? `, check ${i + 1} of ${all.length}` : ''}${d.continuous ? ' (while the runs went)' : ''}`} runs=${d.probes} />`)}
    <${ProbeRuns} caption="Hypothesis after the faults" runs=${states.after && states.after.probes} />
    <h2>Faults</h2>
    ${!(s.faults || []).length ? html`<p>No fault was injected.</p>` : html`<table data-testid="faults">
      <thead><tr><th scope="col">Fault</th><th scope="col">Kind</th><th scope="col">Injected as</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Rolled back</th></tr></thead>
      <tbody>${s.faults.map((f) => html`<tr><td>${f.name}</td><td>${f.kind}</td><td class="mono">${f.faults || show(f.spec)}</td>
        <td>${f.start || '—'}</td><td>${f.end || '—'}</td><td>${show(f.rolledBack)}</td></tr>`)}</tbody></table>`}
    <${ProbeRuns} caption="The method's probes" runs=${(j.run || []).filter((r) => r.activity && r.activity.type === 'probe')} />
    <h2>Resilience report</h2>
    <p class="actions"><a href=${report} target="_blank" rel="noopener">Open the report in a tab</a>
      <a href=${`${report}?format=markdown`} target="_blank" rel="noopener">Markdown summary</a></p>
    <iframe class="report" src=${report} title=${`Resilience report of ${s.name || id}`}></iframe>
  </section>`;
}
