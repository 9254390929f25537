// Training runs: loss and metrics curves from a run's metrics.jsonl; pick a checkpoint and explain at it.
import { api } from '../api.js';
import { el, lineChart, errorBox } from '../ui.js';

export const id = 'runs';
export const title = 'Training runs';

const COLOURS = ['#2858b8', '#c0392b', '#27ae60', '#8e44ad', '#d68910', '#17a589'];

export async function render(root, ctx) {
  const list = el('div', { class: 'list panel', id: 'run-list' });
  const detail = el('div', { class: 'col', id: 'run-detail' });
  root.append(el('h2', {}, 'Training runs'), el('div', { class: 'row' }, el('div', {}, list), detail));
  const runs = ctx.catalog.runs;
  if (runs.length === 0) { list.append(el('p', { class: 'muted' }, 'No folder with a metrics.jsonl under the served folders.')); return; }
  const show = async (run) => {
    [...list.children].forEach(a => a.classList.toggle('active', a.dataset.run === run.name));
    detail.replaceChildren(el('p', { class: 'muted' }, 'loading…'));
    try { detail.replaceChildren(...view(run, await api.get(`/api/runs/metrics?run=${encodeURIComponent(run.name)}`), ctx)); }
    catch (e) { detail.replaceChildren(errorBox(e)); }
  };
  runs.forEach(run => list.append(el('a', { 'data-run': run.name, onclick: () => show(run) }, run.name || `${run.root} (root)`)));
  await show(runs[0]);
}

function view(run, m, ctx) {
  const rows = m.metrics;
  const series = (key, name, i, extra = {}) => ({ name, colour: COLOURS[i % COLOURS.length], points: rows.filter(r => r[key] != null).map(r => [r.tokens, r[key]]), ...extra });
  const dynamics = [...new Set(rows.flatMap(r => Object.keys(r.dynamics ?? {})))];
  const last = rows[rows.length - 1];
  return [
    el('div', { class: 'panel' }, `${rows.length} records; last: step ${last.step}, ${last.tokens.toLocaleString('en')} tokens, train loss ${last.train_loss?.toFixed(3) ?? '—'}`),
    el('div', { class: 'row' },
      lineChart({ title: 'Loss', xLabel: 'tokens', series: [series('train_loss', 'train', 0, { width: 1 }), series('val_loss', 'validation', 1, { dots: true })] }),
      lineChart({ title: 'Learning rate', xLabel: 'tokens', series: [series('learning_rate', 'lr', 2)] }),
      lineChart({ title: 'Gradient norm', xLabel: 'tokens', series: [series('grad_norm', 'norm', 3, { width: 1 })] }),
      // Losses and scores have different scales: one chart each.
      ...[['Training dynamics: losses', dynamics.filter(k => k.includes('loss'))], ['Training dynamics: scores', dynamics.filter(k => !k.includes('loss'))]]
        .filter(([, keys]) => keys.length).map(([t, keys]) => lineChart({ title: t, xLabel: 'tokens',
          series: keys.map((k, i) => ({ name: k.replace(/_/g, ' ').slice(0, 20), colour: COLOURS[i % COLOURS.length], dots: true,
            points: rows.filter(r => r.dynamics && r.dynamics[k] != null).map(r => [r.tokens, r.dynamics[k]]) })) }))),
    el('h3', {}, 'As pinpoint train draws it (loss.svg)'),
    el('img', { src: `/api/runs/loss.svg?run=${encodeURIComponent(run.name)}`, alt: 'loss curve', id: 'run-loss-svg' }),
    el('h3', {}, 'Checkpoints'),
    m.checkpoints.length
      ? el('div', { class: 'list', id: 'checkpoints' }, m.checkpoints.map(c => el('a', { onclick: () => ctx.useModel(c, 'explain') }, `explain at ${c}`)))
      : el('p', { class: 'muted' }, 'This run keeps no checkpoints folder.'),
  ];
}
