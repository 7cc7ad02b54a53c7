// One run: its summary, the actions the user's role allows, its DAG colored live and its tasks
// in a virtualized list, all kept live by the run's event stream.
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { can, enc, get, post } from './api.js';
import { follow, position, throttle } from './live.js';
import { Dag } from './dag.js';
import { VirtualList } from './vlist.js';
import { parseParams } from './start.js';
import { Decisions } from './more.js';

// The statuses of a run that is not over: its event stream is followed only then (a finished
// run's stream ends at once, and EventSource would open it again and again).
export const ACTIVE = ['pending', 'running', 'compensating'];

// A task's state after an event about it (task.finished carries its own).
const TASK_STATE = { 'attempt.started': 'running', 'attempt.spawned': 'running', 'task.skipped': 'skipped',
  'retry.scheduled': 'retrying', 'approval.requested': 'awaiting-approval' };

function Actions({ me, run, onDone }) {
  const [msg, setMsg] = useState('');
  const [params, setParams] = useState('');
  const ns = run.namespace;
  const finished = !ACTIVE.includes(run.status);
  const act = (what, body) => async () => {
    setMsg('');
    try {
      const r = await post(`/api/v1/runs/${enc(run.id)}/${what}`, body);
      if (what === 'rerun') location.hash = `#/runs/${enc(r.id)}`;
      else { setMsg(`${what}: accepted`); onDone(); }
    } catch (e) { setMsg(`${what}: ${e.message}`); }
  };
  if (!can(me, 'operate', ns)) return null;
  return html`<div class="actions" role="group" aria-label="run actions">
    ${!finished && html`<button onClick=${act('cancel')}>Cancel</button>`}
    ${finished && run.status === 'failed' && html`<button onClick=${act('retry')}>Retry failed tasks</button>`}
    ${finished && run.status === 'interrupted' && html`<button onClick=${act('resume')}>Resume</button>`}
    ${finished && html`<button onClick=${() => { try { act('rerun', { params: parseParams(params) })(); } catch (e) { setMsg(e.message); } }}>Rerun</button>
      <label>with params <input value=${params} placeholder="NAME=VALUE" onInput=${(e) => setParams(e.currentTarget.value)} /></label>`}
    ${finished && ['succeeded', 'failed'].includes(run.status) && html`<button onClick=${act('rollback')}>Roll back</button>`}
    ${msg && html`<p role="status">${msg}</p>`}
  </div>`;
}

export function RunPage({ me, runId }) {
  const [run, setRun] = useState(null);
  const [graph, setGraph] = useState(null);
  const [states, setStates] = useState({});  // task -> state, from events after the document
  const [expanded, setExpanded] = useState(new Set());
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let stop = () => {};
    let live = true;
    (async () => {
      try {
        const pos = await position();
        const [r, g] = await Promise.all([get(`/api/v1/runs/${enc(runId)}`),
          get(`/api/v1/runs/${enc(runId)}/graph?format=json`)]);
        if (!live) return;
        setRun(r); setGraph(g); setStates({});
        if (!ACTIVE.includes(r.status)) return;
        const refreshGraph = throttle(() => get(`/api/v1/runs/${enc(runId)}/graph?format=json`).then(setGraph, () => {}), 400);
        stop = follow(`/api/v1/runs/${enc(r.id)}/events/stream`, pos, (ev) => {
          if (ev.task) {
            const s = ev.kind === 'task.finished' ? ev.status : TASK_STATE[ev.kind];
            if (s) setStates((o) => ({ ...o, [ev.task]: s }));
          }
          if (ev.kind === 'run.finished' || ev.kind === 'task.expanded' || ev.kind === 'approval.decided') {
            get(`/api/v1/runs/${enc(runId)}`).then(setRun, () => {});
          } else if (ev.kind === 'run.started') {
            setRun((o) => ({ ...o, status: 'running' }));
          }
          refreshGraph();
        });
      } catch (e) { setError(e.message); }
    })();
    return () => { live = false; stop(); };
  }, [runId, reload]);
  const tasks = useMemo(() => (run ? run.tasks.map((t) => ({ ...t, state: states[t.name] || t.state })) : []), [run, states]);
  const liveGraph = useMemo(() => graph && {
    ...graph, nodes: graph.nodes.map((n) => (states[n.name] ? { ...n, state: states[n.name] } : n)),
  }, [graph, states]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!run || !liveGraph) return html`<p>Loading…</p>`;
  const toggle = (id) => setExpanded((o) => { const s = new Set(o); if (s.has(id)) s.delete(id); else s.add(id); return s; });
  const open = (n) => { if (['task', 'item', 'handler', 'finally'].includes(n.kind)) location.hash = `#/runs/${enc(run.id)}/tasks/${enc(n.name)}`; };
  return html`<section>
    <h1>Run <span class="mono">${run.id}</span></h1>
    <dl class="summary">
      <dt>Pipeline</dt><dd>${run.pipeline}</dd><dt>Namespace</dt><dd>${run.namespace}</dd>
      <dt>Status</dt><dd><span class=${`state state-${run.status}`} data-testid="run-status">${run.status}</span></dd>
      <dt>Started</dt><dd>${run.started}</dd><dt>Finished</dt><dd>${run.finished || '—'}</dd>
      <dt>Labels</dt><dd>${Object.entries(run.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}</dd>
    </dl>
    <${Actions} me=${me} run=${run} onDone=${() => setReload((n) => n + 1)} />
    <h2>Graph</h2>
    <div class="dagbox"><${Dag} graph=${liveGraph} expanded=${expanded} onToggle=${toggle} onOpen=${open} /></div>
    <${Decisions} decisions=${run.decisions} />
    <h2>Tasks (${tasks.length})</h2>
    <div class="taskhead" aria-hidden="true"><span>Task</span><span>State</span><span>Attempts</span><span>Message</span></div>
    <${VirtualList} label="tasks" items=${tasks} renderRow=${(t) => html`<div class="taskrow" data-task=${t.name}>
      <a role="cell" href=${`#/runs/${enc(run.id)}/tasks/${enc(t.name)}`}>${t.name}</a>
      <span role="cell" class=${`state state-${t.state}`}>${t.state}</span>
      <span role="cell">${t.attempts}</span><span role="cell" class="msg">${t.message}</span></div>`} />
  </section>`;
}
