// A run's DAG (GET /api/v1/runs/{id}/graph?format=json) laid out by dagre and drawn as SVG,
// each node filled by its state. A forEach task heads a group of its items: collapsed, the
// group is the one node with its count; expanded, its items hang under it.
import { html } from 'htm/preact';
import { useMemo } from 'preact/hooks';
import dagre from '@dagrejs/dagre';

export const STATE_COLORS = {
  succeeded: '#b7e4c7', failed: '#f4a5a5', running: '#a9cdf7', pending: '#ffffff', '': '#ffffff',
  skipped: '#dddddd', cancelled: '#f7c98b', 'awaiting-approval': '#fbe38e', cached: '#b4e6e0',
  retrying: '#d9c2f0', approved: '#b7e4c7', rejected: '#f4a5a5', compensated: '#e8d1b5',
};

// The nodes and edges to draw, given which groups are expanded.
export function visibleGraph(graph, expanded) {
  const count = {};
  for (const n of graph.nodes) if (n.group >= 0) count[n.group] = (count[n.group] || 0) + 1;
  const shown = graph.nodes.filter((n) => n.group < 0 || expanded.has(n.group));
  const ids = new Set(shown.map((n) => n.id));
  const edges = graph.edges.filter((e) => ids.has(e.from) && ids.has(e.to));
  // An expanded group's items hang from their head.
  for (const n of shown) if (n.group >= 0) edges.push({ from: n.group, to: n.id, kind: 'item', label: '' });
  return { nodes: shown, edges, count };
}

export function Dag({ graph, expanded, onToggle, onOpen }) {
  const layout = useMemo(() => {
    const { nodes, edges, count } = visibleGraph(graph, expanded);
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 36, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of nodes) g.setNode(String(n.id), { width: Math.max(110, 8 * n.name.length + 24), height: 40 });
    for (const e of edges) g.setEdge(String(e.from), String(e.to));
    dagre.layout(g);
    return { nodes, edges, count, g };
  }, [graph, expanded]);
  const { nodes, edges, count, g } = layout;
  const size = g.graph();
  return html`<svg class="dag" role="group" aria-label="the run's tasks as a graph"
      width=${size.width} height=${size.height} viewBox=${`0 0 ${size.width} ${size.height}`}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"
      orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555" /></marker></defs>
    ${edges.map((e) => {
      const pts = g.edge(String(e.from), String(e.to)).points;
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
      return html`<path class=${`edge edge-${e.kind}`} d=${d} fill="none" stroke="#555"
        stroke-dasharray=${e.kind === 'needs' || e.kind === 'item' ? '' : '4 3'} marker-end="url(#arrow)" />`;
    })}
    ${nodes.map((n) => {
      const box = g.node(String(n.id));
      const items = count[n.id];
      const label = items ? `${n.name} ${expanded.has(n.id) ? '▾' : '▸'} ${items}` : n.name;
      const act = () => (items ? onToggle(n.id) : onOpen(n));
      return html`<g class="node" data-name=${n.name} data-state=${n.state || 'pending'} tabindex="0"
          role="button" aria-label=${`${label} ${n.state || 'pending'}`} aria-expanded=${items ? expanded.has(n.id) : undefined}
          transform=${`translate(${box.x - box.width / 2},${box.y - box.height / 2})`}
          onClick=${act} onKeyDown=${(ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); act(); } }}>
        <rect width=${box.width} height=${box.height} rx="6" fill=${STATE_COLORS[n.state] || '#eee'}
          stroke=${n.kind === 'item' ? '#888' : '#333'} />
        <text text-anchor="middle"><tspan x=${box.width / 2} y="17" font-size="12">${label}</tspan>${' '}<tspan
          x=${box.width / 2} y="31" font-size="10" fill="#333">${n.state || 'pending'}</tspan></text>
      </g>`;
    })}
  </svg>`;
}
