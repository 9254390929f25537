// DOM and SVG helpers shared by the pages: elements, tokens, a signed colour scale, heatmaps and line charts.
const SVG = 'http://www.w3.org/2000/svg';

/** An element with attributes (on* become listeners) and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
}

/** A token as the reports show it: spaces as ·, control characters escaped. */
export function showToken(t) {
  return t.replace(/ /g, '·').replace(/[\u0000-\u001f\u007f]/g, c => c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const tok = (t, attrs = {}) => el('span', { class: 'tok', ...attrs }, showToken(t));

export const num = (v, digits = 3) => (v === null || v === undefined || Number.isNaN(v)) ? '—' : Number(v).toFixed(digits);
export const pct = (v) => (v === null || v === undefined) ? '—' : `${(100 * v).toFixed(1)}%`;

/** Blue (negative) – white – red (positive), symmetric around 0 with |max| at full colour. */
export function signedColour(v, max) {
  const x = max > 0 ? Math.max(-1, Math.min(1, v / max)) : 0;
  const a = Math.abs(x);
  const [r, g, b] = x >= 0 ? [255, Math.round(255 - 170 * a), Math.round(255 - 180 * a)] : [Math.round(255 - 190 * a), Math.round(255 - 120 * a), 255];
  return `rgb(${r},${g},${b})`;
}

/** White to dark blue for values in [0, max] (attention weights). */
export function positiveColour(v, max = 1) {
  const a = max > 0 ? Math.max(0, Math.min(1, v / max)) : 0;
  return `rgb(${Math.round(255 - 215 * a)},${Math.round(255 - 165 * a)},${Math.round(255 - 60 * a)})`;
}

export const absMax = (matrix) => Math.max(1e-12, ...matrix.flat().map(v => Math.abs(v ?? 0)));

/**
 * A heatmap of values[row][col] as SVG rects; hovering shows the exact value, clicking calls onCell(row, col).
 * colour(v) picks the fill; the legend shows the scale's ends.
 */
export function heatmap({ values, rowLabels, colLabels, title, onCell, cell = 28, colour, legend, selected }) {
  const rows = values.length, cols = values[0]?.length ?? 0;
  const left = 8 + 7 * Math.max(...rowLabels.map(l => l.length), 2), top = 22 + (colLabels.some(l => l.length > 3) ? 46 : 14);
  const width = left + cols * cell + 90, height = top + rows * cell + 8;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'heatmap', role: 'img', 'aria-label': title });
  root.append(svg('text', { x: 0, y: 13, 'font-weight': 600 }, title));
  colLabels.forEach((l, c) => root.append(svg('text', { x: left + c * cell + cell / 2, y: top - 5, 'text-anchor': l.length > 3 ? 'start' : 'middle',
    transform: l.length > 3 ? `rotate(-50 ${left + c * cell + cell / 2} ${top - 5})` : null }, l)));
  rowLabels.forEach((l, r) => root.append(svg('text', { x: left - 5, y: top + r * cell + cell / 2 + 4, 'text-anchor': 'end' }, l)));
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    const v = values[r][c];
    const rect = svg('rect', { x: left + c * cell, y: top + r * cell, width: cell - 1, height: cell - 1, fill: v === null ? '#eee' : colour(v),
      class: 'cell' + (selected && selected(r, c) ? ' selected' : ''), 'data-row': r, 'data-col': c,
      onclick: onCell ? () => onCell(r, c) : null },
      svg('title', {}, `${rowLabels[r]} ${colLabels[c]}: ${v === null ? 'n/a' : num(v, 4)}`));
    root.append(rect);
  }
  if (legend) {
    const x = left + cols * cell + 14;
    legend.forEach(([label, fill], i) => {
      root.append(svg('rect', { x, y: top + i * 18, width: 14, height: 14, fill, stroke: '#ccc' }));
      root.append(svg('text', { x: x + 18, y: top + i * 18 + 11 }, label));
    });
  }
  return root;
}

export function signedLegend(max) {
  return [[`+${num(max, 2)}`, signedColour(max, max)], ['0', signedColour(0, max)], [`−${num(max, 2)}`, signedColour(-max, max)]];
}

/** Lines (and dots where a series says so) over a shared x axis; hover a point for its value. */
export function lineChart({ series, title, xLabel, width = 580, height = 260, xLog = false, xTicks = null }) {
  const pts = series.flatMap(s => s.points).filter(p => Number.isFinite(p[1]));
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  root.append(svg('text', { x: 0, y: 13, 'font-weight': 600 }, title));
  if (pts.length === 0) { root.append(svg('text', { x: 10, y: 40 }, 'no data')); return root; }
  const fx = v => xLog ? Math.log10(Math.max(v, 1e-9)) : v;
  let [x0, x1] = [Math.min(...pts.map(p => fx(p[0]))), Math.max(...pts.map(p => fx(p[0])))];
  let [y0, y1] = [Math.min(...pts.map(p => p[1])), Math.max(...pts.map(p => p[1]))];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const L = 56, R = 130, T = 24, B = 34;
  const sx = v => L + (fx(v) - x0) / (x1 - x0) * (width - L - R), sy = v => T + (1 - (v - y0) / (y1 - y0)) * (height - T - B);
  root.append(svg('line', { x1: L, y1: height - B, x2: width - R, y2: height - B, class: 'axis' }));
  root.append(svg('line', { x1: L, y1: T, x2: L, y2: height - B, class: 'axis' }));
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4;
    root.append(svg('text', { x: L - 4, y: sy(v) + 4, 'text-anchor': 'end' }, num(v, Math.abs(y1 - y0) < 0.1 ? 4 : 2)));
  }
  const xs = [...new Set(pts.map(p => p[0]))].sort((a, b) => a - b);
  // Named ticks (one per x index) or the first, middle and last x.
  if (xTicks) xTicks.forEach((label, i) => root.append(svg('text', { x: sx(i), y: height - B + 14, 'text-anchor': 'middle' }, label)));
  else [xs[0], xs[Math.floor(xs.length / 2)], xs[xs.length - 1]].forEach(v => root.append(svg('text', { x: sx(v), y: height - B + 14, 'text-anchor': 'middle' }, v > 1e4 ? v.toExponential(1) : v)));
  if (xLabel) root.append(svg('text', { x: (L + width - R) / 2, y: height - 4, 'text-anchor': 'middle', class: 'muted' }, xLabel));
  if (y0 < 0 && y1 > 0) root.append(svg('line', { x1: L, x2: width - R, y1: sy(0), y2: sy(0), stroke: '#bbb', 'stroke-dasharray': '3 3' }));
  series.forEach((s, i) => {
    const good = s.points.filter(p => Number.isFinite(p[1]));
    if (!s.dotsOnly && good.length > 1) root.append(svg('polyline', { fill: 'none', stroke: s.colour, 'stroke-width': s.width ?? 1.5, points: good.map(p => `${sx(p[0])},${sy(p[1])}`).join(' ') }));
    if (s.dots || s.dotsOnly) good.forEach(p => root.append(svg('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: s.colour }, svg('title', {}, `${s.name} at ${p[0]}: ${num(p[1], 4)}`))));
    root.append(svg('rect', { x: width - R + 10, y: T + i * 16, width: 10, height: 10, fill: s.colour }));
    root.append(svg('text', { x: width - R + 24, y: T + i * 16 + 9 }, s.name));
  });
  return root;
}

/** A table from rows of cells (strings or nodes); numeric columns are right-aligned. */
export function table(headers, rows, numeric = []) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h, i) => el('th', { class: numeric.includes(i) ? 'num' : null }, h)))),
    el('tbody', {}, rows.map(r => el('tr', {}, r.map((c, i) => el('td', { class: numeric.includes(i) ? 'num' : null }, c))))));
}

/** Shows an error in place of (or above) a page's output. */
export const errorBox = (e) => el('div', { class: 'error', role: 'alert' }, e.message ?? String(e));

/** Runs an action with a button disabled and the status line saying what is going on. */
export async function busy(button, label, action) {
  const status = document.getElementById('status');
  button.disabled = true;
  status.textContent = label;
  const t0 = performance.now();
  try { return await action(); }
  finally {
    button.disabled = false;
    status.textContent = `${label.replace(/…$/, '')} took ${((performance.now() - t0) / 1000).toFixed(2)} s`;
  }
}
