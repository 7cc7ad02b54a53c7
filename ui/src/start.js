// Start a run: a pipeline file (and the files it imports) with params, submitted as
// POST /api/v1/namespaces/{ns}/runs does (docs/api.md, "Submitting a run").
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { enc, post } from './api.js';

// "a=1\nb=x" or a JSON object -> params; numbers and booleans as JSON reads them.
export function parseParams(text) {
  const t = text.trim();
  if (!t) return {};
  if (t.startsWith('{')) return JSON.parse(t);
  const out = {};
  for (const line of t.split('\n')) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`param line "${line}": expected NAME=VALUE`);
    const v = line.slice(eq + 1).trim();
    try { out[line.slice(0, eq).trim()] = JSON.parse(v); } catch { out[line.slice(0, eq).trim()] = v; }
  }
  return out;
}

export function StartRun() {
  const [files, setFiles] = useState([]);
  const [ns, setNs] = useState('default');
  const [params, setParams] = useState('');
  const [msg, setMsg] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setMsg('');
    try {
      if (!files.length) throw new Error('choose the pipeline file (and the files it imports)');
      const texts = {};
      for (const f of files) texts[f.name] = await f.text();
      const made = await post(`/api/v1/namespaces/${enc(ns)}/runs`,
        { pipeline: files[0].name, files: texts, params: parseParams(params) });
      location.hash = `#/runs/${enc(made.id)}`;
    } catch (err) {
      setMsg(err.message);
    }
  };
  return html`<details class="start"><summary>Start a run</summary>
    <form onSubmit=${submit}>
      <label>Pipeline file (first) and its imports
        <input type="file" multiple accept=".yaml,.yml" onChange=${(e) => setFiles([...e.currentTarget.files])} /></label>
      <label>Namespace <input value=${ns} onInput=${(e) => setNs(e.currentTarget.value)} /></label>
      <label>Params (NAME=VALUE lines or JSON)
        <textarea rows="3" value=${params} onInput=${(e) => setParams(e.currentTarget.value)}></textarea></label>
      <button type="submit">Start</button>
      ${msg && html`<p class="error" role="alert">${msg}</p>`}
    </form></details>`;
}
