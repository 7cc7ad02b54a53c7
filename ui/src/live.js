// Live updates over the API's event streams (Server-Sent Events, docs/api.md). A page reads the
// store's position (/ui/position) before its documents, then follows the stream after it, so
// no event between the two is lost; EventSource reconnects by itself with Last-Event-ID.
import { get } from './api.js';

export async function position() {
  return (await get('/ui/position')).seq;
}

// Calls onEvent(event) for each event of `url` after `after`; returns a function that stops.
export function follow(url, after, onEvent) {
  const sep = url.includes('?') ? '&' : '?';
  const source = new EventSource(`${url}${sep}after=${after}`);
  const handler = (m) => {
    try { onEvent(JSON.parse(m.data)); } catch (e) { /* a malformed message is skipped */ }
  };
  const kinds = ['run.created', 'run.started', 'task.skipped', 'task.expanded', 'attempt.started',
    'attempt.spawned', 'attempt.finished', 'retry.scheduled', 'task.finished', 'run.finished',
    'handler.started', 'run.phase', 'group.retry', 'policy.decision', 'approval.requested',
    'approval.decided', 'run.retried', 'run.pruned'];
  for (const k of kinds) source.addEventListener(k, handler);
  // The one-run stream ends after run.finished: do not reconnect then.
  source.addEventListener('run.finished', () => { if (url.includes('/runs/')) source.close(); });
  return () => source.close();
}

// Runs `fn` at most once per `ms`, with the latest call's effect always applied.
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}
