// A virtualized list: only the rows in view (and a few around them) are in the DOM, so a
// 10,000-task run keeps a few dozen rows however long it is. Rows have one fixed height.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

export function VirtualList({ items, rowHeight = 30, height = 420, renderRow, label }) {
  const [top, setTop] = useState(0);
  const overscan = 10;
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + overscan);
  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(html`<div role="row" class="vrow" aria-rowindex=${i + 1}
      style=${`position:absolute;top:${i * rowHeight}px;height:${rowHeight}px;left:0;right:0`}>
      ${renderRow(items[i], i)}</div>`);
  }
  return html`<div class="vlist" role="table" aria-label=${label} aria-rowcount=${items.length}
      tabindex="0" style=${`height:${Math.min(height, items.length * rowHeight + 2)}px`} onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
    <div role="rowgroup" style=${`position:relative;height:${items.length * rowHeight}px`}>${rows}</div>
  </div>`;
}
