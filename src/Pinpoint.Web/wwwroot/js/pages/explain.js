// Explain: the report made interactive. Heatmap cells open the component (its patching values, direct attribution,
// mechanism, attention from the last position); a chosen set is ablated on the server and the new difference shown;
// a dataset explanation runs as a background job with progress and cancellation.
import { api } from '../api.js';
import { el, tok, num, pct, table, heatmap, lineChart, signedColour, signedLegend, absMax, errorBox, busy } from '../ui.js';

export const id = 'explain';
export const title = 'Explain';

const EXAMPLE = { prompt: 'Tom had a big red ball. One day he lost', target: ' the', foil: ' a', counterfactual: 'Tom had a big red ball. One day he bought' };
const DATASET = [
  EXAMPLE,
  { prompt: 'Once upon a time there was', target: ' a', foil: ' the' },
  { prompt: 'Sue found a shell on the beach. She gave', target: ' the', foil: ' a' },
];
let form = { ...EXAMPLE };
let last = null; // {request, result, attention} of the latest explanation, kept across tab switches

export function render(root, ctx) {
  const fields = Object.fromEntries(['prompt', 'target', 'foil', 'counterfactual'].map(k =>
    [k, el('input', { id: `explain-${k}`, class: k === 'prompt' || k === 'counterfactual' ? 'wide' : 'num', value: form[k] ?? '' })]));
  const button = el('button', { id: 'explain-run', type: 'submit' }, 'Explain');
  const output = el('div', { id: 'explain-output' });
  const f = el('form', { class: 'panel inline' },
    el('label', {}, 'prompt', fields.prompt), el('label', {}, 'target', fields.target), el('label', {}, 'foil', fields.foil),
    el('label', {}, 'counterfactual (empty: searched)', fields.counterfactual), button);
  f.addEventListener('submit', async (event) => {
    event.preventDefault();
    form = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.value]));
    const request = { model: ctx.model, ...form, counterfactual: form.counterfactual || null, top: 10 };
    output.replaceChildren();
    await busy(button, 'explaining…', async () => {
      try {
        const [result, attention] = await Promise.all([api.post('/api/explain', request), api.post('/api/attention', { model: ctx.model, prompt: form.prompt })]);
        last = { request, result, attention };
        output.append(report(last));
      } catch (e) { output.append(errorBox(e)); }
    });
  });
  root.append(el('h2', {}, 'Explain a prediction ', el('span', { class: 'muted' }, `(${ctx.model})`)), f, output, datasetSection(ctx));
  if (last && last.request.model === ctx.model) output.append(report(last));
}

function report({ request, result: r, attention }) {
  const mechanism = el('div', { class: 'panel', id: 'mechanism' }, el('p', { class: 'muted' }, 'Click a head or MLP cell to open it.'));
  const ablation = ablationPanel(request, r);
  const layers = r.patching.heads.length, heads = r.patching.heads[0].length;
  let selected = null;
  const maps = el('div', { class: 'row' });
  function open(kind, layer, index) {
    selected = { kind, layer, index };
    mechanism.replaceChildren(...componentPanel(r, attention, kind, layer, index, ablation));
    drawMaps();
  }
  function drawMaps() {
    const headMap = (values, t, idAttr) => {
      const max = absMax(values);
      const svgNode = heatmap({ values, title: t, rowLabels: values.map((_, l) => `L${l}`), colLabels: values[0].map((_, h) => `H${h}`),
        colour: v => signedColour(v, max), legend: signedLegend(max), onCell: (l, h) => open('head', l, h),
        selected: (l, h) => selected?.kind === 'head' && selected.layer === l && selected.index === h });
      svgNode.id = idAttr;
      return svgNode;
    };
    const mlpValues = r.patching.mlp_out.map(v => [v]);
    const mlpMax = absMax(mlpValues);
    const mlp = heatmap({ values: mlpValues, title: 'MLPs (denoise)', rowLabels: mlpValues.map((_, l) => `L${l}`), colLabels: ['MLP'],
      colour: v => signedColour(v, mlpMax), onCell: (l) => open('mlp', l, 0), selected: (l) => selected?.kind === 'mlp' && selected.layer === l });
    mlp.id = 'map-mlp';
    maps.replaceChildren(
      headMap(r.patching.heads, 'Heads: activation patching (denoise)', 'map-heads'),
      headMap(r.patching.heads_noise, 'Heads: knocked out (noise)', 'map-heads-noise'),
      headMap(r.attribution_patching.heads, `Attribution patching (ρ ${num(r.attribution_patching.spearman_vs_activation, 2)})`, 'map-heads-attribution'),
      mlp);
  }
  drawMaps();
  const resid = r.patching.residual_denoise;
  const residMax = absMax(resid);
  const lens = lineChart({ title: 'Logit lens: target − foil after each layer', xLabel: 'layer',
    xTicks: r.logit_lens.map(p => p.stage),
    series: [{ name: 'difference', colour: '#2858b8', dots: true, points: r.logit_lens.map((p, i) => [i, p.logit_diff]) }] });
  const v = r.verification;
  return el('div', {},
    el('div', { class: 'row' },
      el('div', { class: 'col panel' },
        el('div', { id: 'explain-summary' }, ...(r.summary?.sentences ?? []).map(t => el('p', {}, t)), ...(r.summary?.caveats ?? []).map(t => el('p', { class: 'muted' }, t))),
        el('div', {}, 'target ', tok(r.compared.target_token), ' vs foil ', tok(r.compared.foil_token),
          ...(r.compared.shared.length > 0 ? [' after the shared ', tok(r.compared.shared.join(''))] : []), '  difference ', el('span', { class: 'big', id: 'logit-diff' }, num(r.logit_diff))),
        ...[r.target, r.foil].filter(c => c.token_count > 1).map(c => el('div', { class: 'muted' }, `"${c.text}" is ${c.token_count} tokens: `, ...c.pieces.map(p => tok(p)), ` — token ${r.compared.shared.length + 1} is compared`)),
        el('div', {}, 'counterfactual ', el('span', { class: 'tok' }, r.counterfactual.text), ` → ${num(r.counterfactual.logit_diff)} (${r.counterfactual.origin})`),
        el('div', {}, `top-${v.k} ablated together (${v.components.join(', ')}): resample removes ${pct(v.resample.top_k_fraction_removed)} (random ${pct(v.resample.random_k_fraction_removed)}), mean ${pct(v.top_k_fraction_removed)} (random ${pct(v.random_k_fraction_removed)})`),
        el('div', { class: 'muted' }, `Spearman vs activation patching: attribution ${num(r.attribution_patching.spearman_vs_activation, 2)}, integrated gradients ${num(r.integrated_gradients.spearman_vs_activation, 2)}`),
        el('a', { id: 'explain-report', target: '_blank', rel: 'noopener', href: reportUrl(request, r) }, 'full report (the page explain --html writes)')),
      el('div', { class: 'col' }, lens)),
    maps,
    el('div', { class: 'row' }, el('div', { class: 'col' }, el('h3', {}, 'Component'), mechanism), el('div', { class: 'col' }, el('h3', {}, 'Ablate a set'), ablation.node)),
    heatmap({ values: resid.map(row => row.slice()), title: 'Residual stream: patching each layer × position (denoise)', rowLabels: resid.map((_, l) => l < resid.length - 1 ? `pre L${l}` : 'final'),
      colLabels: r.tokens.map((t, i) => `${i} ${t.replace(/ /g, '·')}`), colour: x => signedColour(x, residMax), legend: signedLegend(residMax) }),
    el('div', { class: 'row' },
      el('div', { class: 'col' }, el('h3', {}, 'Direct logit attribution'), table(['component', 'value'], r.direct_attribution.map(s => [s.component, num(s.value)]), [1])),
      el('div', { class: 'col' }, el('h3', {}, 'Neurons (attribution patching)'), table(['neuron', 'share'], r.neuron_patching.map(s => [chip(s.component, ablation), num(s.value)]), [1]))));
}

/** The server-drawn HTML report of the same prediction (the counterfactual as used, so a searched one is not searched again). */
function reportUrl(request, r) {
  const query = new URLSearchParams({ model: request.model, prompt: request.prompt, target: request.target, foil: request.foil, counterfactual: r.counterfactual.text });
  return `/api/explain/report.html?${query}`;
}

/** What the page knows about one head or MLP: the values in every map, its mechanism, where it attends. */
function componentPanel(r, attention, kind, layer, index, ablation) {
  const name = kind === 'head' ? `L${layer}H${index}` : `MLP${layer}`;
  const dla = r.direct_attribution.find(s => s.component === name);
  const values = kind === 'head'
    ? [['activation patching (denoise)', r.patching.heads[layer][index]], ['knocked out (noise)', r.patching.heads_noise[layer][index]],
       ['attribution patching', r.attribution_patching.heads[layer][index]], ['integrated gradients', r.integrated_gradients.heads[layer][index]]]
    : [['activation patching (denoise)', r.patching.mlp_out[layer]], ['attribution patching', r.attribution_patching.mlp_out[layer]], ['integrated gradients', r.integrated_gradients.mlp_out[layer]]];
  if (dla) values.push(['direct logit attribution', dla.value]);
  const parts = [el('div', { class: 'inline' }, el('span', { class: 'big', id: 'mechanism-name' }, name), ' ', el('button', { type: 'button', class: 'secondary', id: 'mechanism-add', onclick: () => ablation.add(name) }, 'add to ablation set')),
    table(['measure', 'value'], values.map(([k, v]) => [k, num(v)]), [1])];
  const m = r.head_mechanisms.find(h => h.component === name);
  if (m) {
    parts.push(el('h3', {}, 'Mechanism'),
      el('div', {}, 'attends to (from the last position): ', ...m.attends_to.map(a => el('span', {}, tok(a.token), `@${a.position} ${num(a.weight, 2)}  `))),
      el('div', {}, 'its output promotes: ', ...m.promotes.map(t => tok(t.token)).flatMap(x => [x, ' '])),
      el('div', {}, `OV circuit (weights) from `, tok(m.ov_circuit.source_token), ` promotes `, ...m.ov_circuit.promotes.map(t => tok(t.token)).flatMap(x => [x, ' ']),
        el('span', { class: 'muted' }, ` copying score ${pct(m.ov_circuit.copying_score)}`)));
  }
  if (kind === 'head' && attention) {
    const row = attention.patterns[layer][index][attention.tokens.length - 1];
    const order = row.map((w, k) => [w, k]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    parts.push(el('h3', {}, 'Attention from the last position'), el('div', { id: 'mechanism-attention' }, ...order.map(([w, k]) => el('span', {}, tok(attention.tokens[k]), `@${k} ${num(w, 2)}  `))));
  }
  if (!m && kind === 'head') parts.push(el('p', { class: 'muted' }, 'The token-level mechanism is read for the top heads of the ranking.'));
  return parts;
}

const chip = (name, ablation) => el('span', { class: 'chip', title: 'add to the ablation set', onclick: () => ablation.add(name) }, name);

/** The set to knock out, its kind, and the answer: the new difference beside the clean one. */
function ablationPanel(request, r) {
  const set = new Set(r.verification.components.slice(0, 2));
  const chips = el('div', { class: 'chips', id: 'ablation-set' });
  const kind = el('select', { id: 'ablation-kind' }, el('option', { value: 'resample' }, 'resample (counterfactual)'), el('option', { value: 'mean' }, 'mean (reference prompts)'));
  const button = el('button', { type: 'button', id: 'ablate-run' }, 'Ablate');
  const out = el('div', { id: 'ablation-output' });
  const draw = () => chips.replaceChildren(...[...set].map(n => el('span', { class: 'chip', title: 'remove', onclick: () => { set.delete(n); draw(); } }, `${n} ✕`)));
  button.addEventListener('click', () => busy(button, 'ablating…', async () => {
    try {
      const a = await api.post('/api/ablate', { model: request.model, prompt: request.prompt, target: request.target, foil: request.foil, counterfactual: r.counterfactual.text, components: [...set], kind: kind.value });
      out.replaceChildren(el('div', {}, `${a.components.join(', ')} (${a.kind}): difference `, el('strong', {}, num(a.logit_diff)), ' → ',
        el('span', { class: 'big', id: 'ablated-diff' }, num(a.ablated_logit_diff)), `  (${pct(a.fraction_removed)} removed)`));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  }));
  draw();
  return {
    node: el('div', { class: 'panel' }, el('p', { class: 'muted' }, 'Click a chip to drop it; add heads from the component panel, neurons from the table.'), chips, el('div', { class: 'inline' }, kind, ' ', button), out),
    add(name) { set.add(name); draw(); },
  };
}

/** explain --dataset as a background job: progress over server-sent events, cancellable. */
function datasetSection(ctx) {
  const items = el('textarea', { id: 'dataset-items', rows: 4 }, DATASET.map(i => JSON.stringify(i)).join('\n'));
  const start = el('button', { type: 'button', id: 'dataset-run' }, 'Explain the dataset');
  const cancel = el('button', { type: 'button', class: 'secondary', id: 'dataset-cancel', disabled: true }, 'Cancel');
  const bar = el('progress', { id: 'dataset-progress', max: 1, value: 0 });
  const stage = el('span', { class: 'muted', id: 'dataset-stage' });
  const out = el('div', { id: 'dataset-output' });
  let job = null;
  start.addEventListener('click', async () => {
    out.replaceChildren();
    try {
      const parsed = items.value.split('\n').filter(l => l.trim()).map((l, i) => {
        try { return JSON.parse(l); } catch { throw new Error(`line ${i + 1} is not JSON`); }
      });
      job = await api.post('/api/jobs/explain-dataset', { model: ctx.model, items: parsed, top: 10 });
    } catch (e) { out.replaceChildren(errorBox(e)); return; }
    start.disabled = true; cancel.disabled = false;
    const events = new EventSource(`/api/jobs/${job.id}/events`);
    const finish = () => { events.close(); start.disabled = false; cancel.disabled = true; };
    events.addEventListener('progress', e => { const p = JSON.parse(e.data); bar.max = p.total; bar.value = p.done; stage.textContent = `${p.stage} ${p.done}/${p.total}`; });
    events.addEventListener('done', e => { finish(); stage.textContent = 'done'; out.replaceChildren(datasetReport(JSON.parse(e.data))); });
    events.addEventListener('failed', e => { finish(); out.replaceChildren(errorBox(new Error(JSON.parse(e.data).error))); });
    events.addEventListener('cancelled', () => { finish(); stage.textContent = 'cancelled'; });
    events.onerror = () => { if (events.readyState === EventSource.CLOSED) finish(); };
  });
  cancel.addEventListener('click', () => job && api.del(`/api/jobs/${job.id}`).catch(e => out.replaceChildren(errorBox(e))));
  return el('div', {}, el('h2', {}, 'Dataset explain'), el('p', { class: 'muted' }, 'One {"prompt","target","foil","counterfactual"?} per line.'),
    items, el('div', { class: 'inline' }, start, ' ', cancel, ' ', bar, ' ', stage), out);
}

function datasetReport(d) {
  const range = x => x ? `${num(x.mean)} ± ${num(x.ci95)}` : '—';
  return el('div', {},
    el('div', { class: 'panel', id: 'dataset-summary' }, `${d.items} items, ${d.correct} correct; mean difference ${range(d.logit_diff)}, effect ${range(d.effect)}; `,
      `common top-${d.verification.k} (${d.verification.components.join(', ')}) removes ${pct(d.verification.top_k_fraction_removed)} (random ${pct(d.verification.random_k_fraction_removed)})`),
    el('div', { class: 'row' },
      el('div', { class: 'col' }, el('h3', {}, 'Components'), table(['component', 'effect', 'share', 'consistency'], d.components.slice(0, 12).map(c => [c.component, range(c.effect), pct(c.share), c.consistency]), [1, 2])),
      el('div', { class: 'col' }, el('h3', {}, 'Items'), table(['#', 'prompt', 'difference', 'top component'], d.item_results.map(i => [String(i.index), i.prompt, num(i.logit_diff), i.top_component]), [0, 2]))));
}
