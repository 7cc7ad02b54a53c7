// The runs, newest first, with filters (pipeline, status, label, time), kept live by the
// all-runs event stream: a run's status changes as its events arrive; a new run is fetched alone.
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { can, enc, get } from './api.js';
import { follow, position } from './live.js';
import { StartRun } from './start.js';

const SINCE = { '': 0, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };
const STATUS_OF = { 'run.started': 'running', 'run.created': 'pending', 'run.retried': 'running' };

export function RunsPage({ me }) {
  const [runs, setRuns] = useState(null);
  const [error, setError] = useState('');
  const [f, setF] = useState({ pipeline: '', status: '', label: '', since: '' });
  const [labels, setLabels] = useState({});  // run id -> labels, read when a label filter is set
  useEffect(() => {
    let stop = () => {};
    let live = true;
    (async () => {
      try {
        const pos = await position();
        const list = (await get('/api/v1/runs?limit=500')).items;
        if (!live) return;
        setRuns(list);
        const asked = new Set();  // new runs whose document is being read: once each
        stop = follow('/api/v1/events/stream', pos, (ev) => {
          setRuns((old) => {
            const i = old.findIndex((r) => r.id === ev.run);
            if (i < 0) {
              if (asked.has(ev.run)) return old;
              asked.add(ev.run);
              get(`/api/v1/runs/${enc(ev.run)}`).then((r) => setRuns((o) => (o.some((x) => x.id === r.id) ? o : [
                { id: r.id, namespace: r.namespace, pipeline: r.pipeline, status: r.status, started: r.started, finished: r.finished, labels: r.labels },
                ...o])), () => {});
              return old;
            }
            const status = ev.kind === 'run.finished' ? ev.status : STATUS_OF[ev.kind];
            if (!status || old[i].status === status) return old;
            const copy = old.slice();
            copy[i] = { ...old[i], status, finished: ev.kind === 'run.finished' ? ev.time : old[i].finished };
            return copy;
          });
        });
      } catch (e) {
        setError(e.message);
      }
    })();
    return () => { live = false; stop(); };
  }, []);
  // Labels are in a run's own document: read them for the listed runs once a label filter is set.
  useEffect(() => {
    if (!f.label || !runs) return;
    for (const r of runs) {
      if (r.labels || labels[r.id]) continue;
      get(`/api/v1/runs/${enc(r.id)}`).then((d) => setLabels((o) => ({ ...o, [r.id]: d.labels || {} })), () => {});
    }
  }, [f.label, runs]);
  const shown = useMemo(() => {
    if (!runs) return [];
    const [lk, lv] = f.label.split('=');
    const since = SINCE[f.since] ? Date.now() - SINCE[f.since] : 0;
    return runs.filter((r) => (!f.pipeline || r.pipeline.includes(f.pipeline)) &&
      (!f.status || r.status === f.status) &&
      (!since || Date.parse(r.started) >= since) &&
      (!f.label || (() => { const l = r.labels || labels[r.id]; return l && lk in l && (lv === undefined || String(l[lk]) === lv); })()));
  }, [runs, f, labels]);
  const statuses = [...new Set((runs || []).map((r) => r.status))].sort();
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  return html`<section>
    <h1>Runs</h1>
    ${can(me, 'submit', 'default') && html`<${StartRun} />`}
    <form class="filters" aria-label="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Pipeline <input name="pipeline" value=${f.pipeline} onInput=${set('pipeline')} /></label>
      <label>Status <select name="status" value=${f.status} onChange=${set('status')}>
        <option value="">any</option>${statuses.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>Label <input name="label" placeholder="key=value" value=${f.label} onInput=${set('label')} /></label>
      <label>Started <select name="since" value=${f.since} onChange=${set('since')}>
        <option value="">any time</option><option value="1h">last hour</option>
        <option value="24h">last 24 hours</option><option value="7d">last 7 days</option></select></label>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${runs === null ? html`<p>Loading…</p>` : html`<table class="runs">
      <caption>${shown.length} of ${runs.length} runs</caption>
      <thead><tr><th scope="col">Run</th><th scope="col">Pipeline</th><th scope="col">Namespace</th>
        <th scope="col">Status</th><th scope="col">Started</th><th scope="col">Finished</th></tr></thead>
      <tbody>${shown.map((r) => html`<tr data-run=${r.id}>
        <td><a href=${`#/runs/${enc(r.id)}`}>${r.id}</a></td><td>${r.pipeline}</td><td>${r.namespace}</td>
        <td><span class=${`state state-${r.status}`}>${r.status}</span></td>
        <td>${r.started}</td><td>${r.finished}</td></tr>`)}</tbody></table>`}
  </section>`;
}
