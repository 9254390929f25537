// Circuit: pinpoint circuit as a background job (progress over server-sent events, cancellable) on one prediction
// or a dataset; the answer, the layered graph the HTML report draws (edge width by effect; click a node for its
// readout), the faithfulness curve and the edges.
import { api } from '../api.js';
import { el, tok, num, pct, table, lineChart, errorBox } from '../ui.js';

export const id = 'circuit';
export const title = 'Circuit';

const EXAMPLE = { prompt: 'Tom had a big red ball. One day he lost', target: ' the', foil: ' a', counterfactual: 'Tom had a big red ball. One day he bought' };
let form = { ...EXAMPLE, items: '', size: '', curve: '12' };
let last = null; // {model, job, result, graph} of the latest finished circuit, kept across tab switches

export function render(root, ctx) {
  const fields = Object.fromEntries(['prompt', 'target', 'foil', 'counterfactual'].map(k =>
    [k, el('input', { id: `circuit-${k}`, class: k === 'prompt' || k === 'counterfactual' ? 'wide' : 'num', value: form[k] ?? '' })]));
  const items = el('textarea', { id: 'circuit-items', rows: 3, placeholder: 'or a dataset: one {"prompt","target","foil","counterfactual"?} per line (replaces the prompt above)' }, form.items);
  const size = el('input', { id: 'circuit-size', class: 'num', value: form.size, placeholder: '0.8' });
  const curve = el('input', { id: 'circuit-curve', class: 'num', value: form.curve });
  const start = el('button', { type: 'submit', id: 'circuit-run' }, 'Find the circuit');
  const cancel = el('button', { type: 'button', class: 'secondary', id: 'circuit-cancel', disabled: true }, 'Cancel');
  const bar = el('progress', { id: 'circuit-progress', max: 1, value: 0 });
  const stage = el('span', { class: 'muted', id: 'circuit-stage' });
  const output = el('div', { id: 'circuit-output' });
  let job = null;
  const f = el('form', { class: 'panel inline' },
    el('label', {}, 'prompt', fields.prompt), el('label', {}, 'target', fields.target), el('label', {}, 'foil', fields.foil),
    el('label', {}, 'counterfactual (empty: searched)', fields.counterfactual),
    el('label', {}, 'edges N, or faithfulness F in (0, 1]', size), el('label', {}, 'curve points', curve),
    el('label', { class: 'block' }, items), start, cancel, bar, stage);
  f.addEventListener('submit', async (event) => {
    event.preventDefault();
    form = { ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.value])), items: items.value, size: size.value, curve: curve.value };
    output.replaceChildren();
    let request;
    try { request = body(ctx.model, form); job = await api.post('/api/jobs/circuit', request); } catch (e) { output.replaceChildren(errorBox(e)); return; }
    start.disabled = true; cancel.disabled = false; bar.value = 0;
    const events = new EventSource(`/api/jobs/${job.id}/events`);
    const finish = () => { events.close(); start.disabled = false; cancel.disabled = true; };
    events.addEventListener('progress', e => { const p = JSON.parse(e.data); bar.max = p.total; bar.value = p.done; stage.textContent = `${p.stage} ${p.done}/${p.total}`; });
    events.addEventListener('done', async e => {
      finish();
      stage.textContent = 'done';
      try {
        const graph = await (await fetch(`/api/jobs/${job.id}/circuit.svg`)).text();
        last = { model: request.model, result: JSON.parse(e.data), graph };
        output.replaceChildren(report(last));
      } catch (err) { output.replaceChildren(errorBox(err)); }
    });
    events.addEventListener('failed', e => { finish(); stage.textContent = 'failed'; output.replaceChildren(errorBox(new Error(JSON.parse(e.data).error))); });
    events.addEventListener('cancelled', () => { finish(); stage.textContent = 'cancelled'; });
    events.onerror = () => { if (events.readyState === EventSource.CLOSED) finish(); };
  });
  cancel.addEventListener('click', () => job && api.del(`/api/jobs/${job.id}`).catch(e => output.replaceChildren(errorBox(e))));
  root.append(el('h2', {}, 'Find a circuit ', el('span', { class: 'muted' }, `(${ctx.model})`)), f, output);
  if (last && last.model === ctx.model) output.append(report(last));
}

/** The job's request: one prediction or the dataset lines, and the size as a count of edges (N ≥ 1) or a faithfulness (F ≤ 1). */
function body(model, form) {
  const request = { model, curve_points: Number(form.curve) || 12, random: 3 };
  const lines = form.items.split('\n').filter(l => l.trim());
  if (lines.length) {
    request.items = lines.map((l, i) => { try { return JSON.parse(l); } catch { throw new Error(`dataset line ${i + 1} is not JSON`); } });
  } else Object.assign(request, { prompt: form.prompt, target: form.target, foil: form.foil, counterfactual: form.counterfactual || null });
  const size = form.size.trim();
  if (size) {
    const v = Number(size);
    if (!Number.isFinite(v)) throw new Error(`size '${size}' is neither a number of edges nor a faithfulness`);
    if (v > 1) request.edges = Math.round(v); else request.target_faithfulness = v;
  }
  return request;
}

function report({ result: r, graph }) {
  const readout = el('div', { class: 'panel', id: 'circuit-readout' }, el('p', { class: 'muted' }, 'Click a head or MLP in the graph for its readout.'));
  const drawing = el('div', { id: 'circuit-graph' });
  // Parsed as HTML, as the report embeds it inline (the markup carries no xmlns); the server escapes every label.
  drawing.append(document.importNode(new DOMParser().parseFromString(graph, 'text/html').body.firstElementChild, true));
  // The report's nodes link to #node-NAME; here a click opens the readout instead of changing the page.
  drawing.querySelectorAll('a').forEach(a => a.addEventListener('click', event => {
    event.preventDefault();
    const name = a.querySelector('g.node')?.dataset.node;
    const node = r.nodes.find(n => n.name === name);
    if (node) readout.replaceChildren(...nodePanel(node, r));
  }));
  const f = r.faithfulness, random = r.random_faithfulness;
  const curve = lineChart({ title: 'Faithfulness by number of top edges', xLabel: 'top edges (log scale)', xLog: true,
    series: [{ name: 'resample', colour: '#c0392b', dots: true, points: r.curve.map(p => [p.edges, p.resample]) },
             { name: 'mean', colour: '#2858b8', dots: true, points: r.curve.map(p => [p.edges, p.mean]) }] });
  return el('div', {},
    el('div', { class: 'panel', id: 'circuit-summary' }, ...r.summary.sentences.map(t => el('p', {}, t)), ...r.summary.caveats.map(t => el('p', { class: 'muted' }, t))),
    el('div', {}, `${r.edges.length} edges (top ${r.requested_edges} of ${r.total_edges}, pruned), ${r.nodes.length} nodes; faithfulness resample `,
      el('strong', { id: 'circuit-faithfulness' }, pct(f.resample)), `, mean ${pct(f.mean)}; random circuits of the same size ${pct(random.resample)} / ${pct(random.mean)}; `,
      `edge scores vs exact path patching: Spearman ${num(r.path_patching.spearman, 2)}`),
    el('div', { class: 'row' }, el('div', { class: 'col' }, drawing), el('div', { class: 'col' }, el('h3', {}, 'Node'), readout)),
    el('div', { class: 'row' },
      el('div', { class: 'col' }, curve),
      el('div', { class: 'col' }, el('h3', {}, 'Edges'), table(['sender', 'receiver', 'score'], r.edges.map(e => [e.from, e.to, num(e.score)]), [2]))));
}

/** A node's mechanism: its edges in the circuit and what it reads and writes. */
function nodePanel(n, r) {
  const tokens = list => list.map(t => tok(t.token)).flatMap(x => [x, ' ']);
  const parts = [el('div', { class: 'big', id: 'circuit-node-name' }, n.name)];
  const into = r.edges.filter(e => e.to_nodes.includes(n.name)), out = r.edges.filter(e => e.from === n.name);
  parts.push(el('div', { class: 'muted' }, `${into.length} edges in, ${out.length} out`));
  if (n.head) {
    const h = n.head;
    parts.push(
      el('div', {}, 'attends to (from the last position): ', ...h.attends_to.map(a => el('span', {}, tok(a.token), `@${a.position} ${num(a.weight, 2)}  `))),
      el('div', {}, 'its output promotes: ', ...tokens(h.promotes)),
      el('div', {}, 'OV circuit (weights) from ', tok(h.ov_circuit.source_token), ' promotes ', ...tokens(h.ov_circuit.promotes)),
      el('div', {}, 'QK circuit (weights) from ', tok(h.qk_circuit.destination_token), ' favours ', ...tokens(h.qk_circuit.favours)));
  }
  if (n.promotes) parts.push(el('div', {}, 'its output promotes: ', ...tokens(n.promotes)));
  // Where the model has a neuron dashboard store for the layer: the top corpus contexts of the neurons carrying most of the difference.
  for (const c of n.top_contexts ?? []) {
    parts.push(el('div', { class: 'circuit-neuron' }, el('code', {}, c.neuron), ` max ${num(c.max_activation, 2)}: `,
      ...c.top.map(t => el('div', { class: 'context' }, `${num(t.activation, 2)} …${t.before.slice(-40)}`, el('mark', {}, t.token), `${t.after.slice(0, 20)}…`))));
  }
  return parts;
}
