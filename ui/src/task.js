// One task of a run: its attempts (status, error class, exit code), outputs, artifacts to
// download, and an attempt's logs, followed live while it runs (GET …/logs?follow=true).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { can, enc, get, post } from './api.js';
import { Rollout } from './more.js';

function Logs({ runId, task, attempt }) {
  const [stream, setStream] = useState('stdout');
  const [text, setText] = useState('');
  const [following, setFollowing] = useState(false);
  const pre = useRef(null);
  useEffect(() => {
    const abort = new AbortController();
    setText('');
    (async () => {
      let offset = 0;
      const base = `/api/v1/runs/${enc(runId)}/tasks/${enc(task)}/logs?attempt=${attempt}&stream=${stream}`;
      try {
        for (;;) {  // a follow ends after the idle timeout while the attempt runs: ask again
          const res = await fetch(`${base}&follow=true&offset=${offset}`, { credentials: 'same-origin', signal: abort.signal });
          if (!res.ok) { setText((t) => t + `\n[${res.status}: the log cannot be read]`); return; }
          setFollowing(true);
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            offset += value.length;
            setText((t) => t + dec.decode(value, { stream: true }));
          }
          const head = await fetch(`${base}&offset=${offset}&limit=0`, { credentials: 'same-origin', signal: abort.signal });
          if (head.headers.get('X-Sluice-Running') !== 'true') break;
        }
      } catch (e) { if (e.name !== 'AbortError') setText((t) => t + `\n[${e.message}]`); }
      setFollowing(false);
    })();
    return () => abort.abort();
  }, [runId, task, attempt, stream]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  return html`<div class="logs">
    <div role="group" aria-label="log stream">
      ${['stdout', 'stderr'].map((s) => html`<button aria-pressed=${stream === s} onClick=${() => setStream(s)}>${s}</button>`)}
      ${following && html`<span class="following" role="status">following…</span>`}
    </div>
    <pre ref=${pre} tabindex="0" aria-label=${`${stream} of attempt ${attempt}`} data-testid="log">${text}</pre>
  </div>`;
}

export function TaskPage({ me, runId, task }) {
  const [run, setRun] = useState(null);
  const [arts, setArts] = useState([]);
  const [approvals, setApprovals] = useState([]);
  const [attempt, setAttempt] = useState(0);
  const [msg, setMsg] = useState('');
  const [error, setError] = useState('');
  const load = () => {
    get(`/api/v1/runs/${enc(runId)}`).then(setRun, (e) => setError(e.message));
    get(`/api/v1/runs/${enc(runId)}/artifacts`).then((a) => setArts(a.items.filter((x) => x.task === task)), () => {});
    get(`/api/v1/runs/${enc(runId)}/approvals`).then((a) => setApprovals(a.items.filter((x) => x.task === task)), () => {});
  };
  useEffect(load, [runId, task]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!run) return html`<p>Loading…</p>`;
  const t = run.tasks.find((x) => x.name === task);
  const attempts = run.attempts.filter((a) => a.task === task);
  const shown = attempt || (attempts.length ? attempts[attempts.length - 1].attempt : 0);
  const vote = (how) => async () => {
    setMsg('');
    try {
      const r = await post(`/api/v1/runs/${enc(run.id)}/tasks/${enc(task)}/${how}`, {});
      setMsg(`${how}d by ${r.by}: ${r.approvals} of ${r.quorum}`);
      load();
    } catch (e) { setMsg(`${how}: ${e.message}`); }
  };
  return html`<section>
    <p><a href=${`#/runs/${enc(run.id)}`}>← run ${run.id}</a></p>
    <h1>Task <span class="mono">${task}</span></h1>
    ${t && html`<dl class="summary"><dt>State</dt><dd><span class=${`state state-${t.state}`}>${t.state}</span></dd>
      <dt>Message</dt><dd>${t.message || '—'}</dd></dl>`}
    ${approvals.length > 0 && html`<h2>Approval</h2>${approvals.map((a) => html`<pre class="json">${JSON.stringify(a, null, 1)}</pre>`)}
      ${can(me, 'approve', run.namespace) && t && t.state === 'awaiting-approval' && html`<div class="actions">
        <button onClick=${vote('approve')}>Approve</button><button onClick=${vote('reject')}>Reject</button></div>`}`}
    ${msg && html`<p role="status">${msg}</p>`}
    <${Rollout} me=${me} run=${run} task=${task} />
    <h2>Attempts</h2>
    <table><thead><tr><th scope="col">#</th><th scope="col">Status</th><th scope="col">Error class</th>
      <th scope="col">Exit</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Message</th></tr></thead>
      <tbody>${attempts.map((a) => html`<tr>
        <td><button aria-pressed=${shown === a.attempt} onClick=${() => setAttempt(a.attempt)}>${a.attempt}</button></td>
        <td><span class=${`state state-${a.status}`}>${a.status}</span></td><td data-testid="error-class">${a.class || '—'}</td>
        <td>${a.exitCode}</td><td>${a.started}</td><td>${a.finished}</td><td>${a.message}</td></tr>`)}</tbody></table>
    <h2>Outputs</h2>
    ${t && t.outputs ? html`<pre class="json">${JSON.stringify(t.outputs, null, 2)}</pre>` : html`<p>none</p>`}
    <h2>Artifacts</h2>
    ${arts.length ? html`<ul>${arts.map((a) => html`<li><a download href=${`/api/v1/runs/${enc(run.id)}/artifacts/${a.digest.replace(':', '/')}`}>${a.name}</a>
      <span class="mono"> ${a.digest.slice(0, 19)}…</span></li>`)}</ul>` : html`<p>none</p>`}
    <h2>Logs</h2>
    ${shown ? html`<${Logs} runId=${run.id} task=${task} attempt=${shown} />` : html`<p>no attempt yet</p>`}
  </section>`;
}
