// Prompt: top next-token predictions, sampling, the logit lens in tokens, and every head's attention pattern with hover.
import { api } from '../api.js';
import { el, tok, num, pct, table, heatmap, positiveColour, errorBox, busy } from '../ui.js';

export const id = 'prompt';
export const title = 'Prompt';

let lastPrompt = 'Tom had a big red ball. One day he lost';

export function render(root, ctx) {
  const text = el('textarea', { id: 'prompt-text', rows: 2 }, lastPrompt);
  const runButton = el('button', { id: 'prompt-run', type: 'submit' }, 'Run');
  const output = el('div', { id: 'prompt-output' });
  const form = el('form', { class: 'panel' }, el('label', { class: 'block' }, 'prompt', text), el('div', { class: 'inline' }, runButton));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    lastPrompt = text.value;
    output.replaceChildren();
    await busy(runButton, 'running…', async () => {
      try {
        const body = { model: ctx.model, prompt: text.value, top: 10 };
        const [run, lens, attention] = await Promise.all([api.post('/api/run', body), api.post('/api/lens', { ...body, top: 5 }), api.post('/api/attention', body)]);
        output.append(predictions(run), lensTable(lens), patterns(attention));
      } catch (e) { output.append(errorBox(e)); }
    });
  });
  root.append(el('h2', {}, 'Prompt'), form, output, sampling(ctx, text));
  form.requestSubmit();
}

function predictions(run) {
  return el('div', { class: 'row' },
    el('div', { class: 'col' }, el('h3', {}, `Tokens (${run.ids.length})`), el('div', { class: 'tokens' }, run.tokens.map((t, i) => tok(t, { title: `position ${i}, id ${run.ids[i]}` })))),
    el('div', { class: 'col' }, el('h3', {}, 'Top next tokens'),
      table(['rank', 'token', 'logit', 'prob'], run.top.map((p, i) => [String(i + 1), tok(p.token), num(p.logit), pct(p.prob)]), [0, 2, 3])));
}

function lensTable(lens) {
  return el('div', {}, el('h3', {}, 'Logit lens: what the model would say after each layer'),
    table(['after', ...lens.rows[0].top.map((_, i) => `#${i + 1}`)],
      lens.rows.map(r => [r.stage, ...r.top.map(t => el('span', {}, tok(t.token), ' ', el('span', { class: 'muted' }, pct(t.prob))))])));
}

/** CircuitsVis-style: pick a layer and head; hover a token to see where it attends, or a cell for the exact weight. */
function patterns(a) {
  let layer = a.n_layers - 1, head = 0, focus = a.tokens.length - 1;
  const heads = el('div', { class: 'headgrid', id: 'head-grid' });
  const strip = el('div', { class: 'tokens', id: 'attention-tokens' });
  const matrix = el('div', {});
  const layerSelect = el('select', { id: 'attention-layer' }, Array.from({ length: a.n_layers }, (_, l) => el('option', { value: l }, `layer ${l}`)));
  layerSelect.value = layer;
  layerSelect.addEventListener('change', () => { layer = +layerSelect.value; draw(); });
  function draw() {
    heads.replaceChildren(...Array.from({ length: a.n_heads }, (_, h) =>
      el('button', { class: h === head ? 'active' : null, type: 'button', onclick: () => { head = h; draw(); } }, `L${layer}H${h}`)));
    const p = a.patterns[layer][head];
    strip.replaceChildren(...a.tokens.map((t, k) => tok(t, { onmouseenter: () => { focus = k; shade(); } })));
    shade();
    const labels = a.tokens.map((t, i) => `${i} ${t.replace(/ /g, '·').slice(0, 10)}`);
    matrix.replaceChildren(heatmap({ values: p, rowLabels: labels, colLabels: labels, title: `L${layer}H${head} pattern (rows attend to columns)`,
      cell: Math.max(10, Math.min(26, Math.floor(640 / a.tokens.length))), colour: v => positiveColour(v),
      legend: [['1', positiveColour(1)], ['0.5', positiveColour(0.5)], ['0', positiveColour(0)]],
      onCell: (q) => { focus = q; draw(); }, selected: (r) => r === focus }));
  }
  /** The focused token's attention to each earlier token, as background (the CSP allows styles set from scripts). */
  function shade() {
    const p = a.patterns[layer][head];
    [...strip.children].forEach((node, k) => {
      node.classList.toggle('focus', k === focus);
      node.style.background = k <= focus ? positiveColour(p[focus][k]) : '#fff';
      node.title = k <= focus ? `L${layer}H${head}: position ${focus} → ${k}: ${num(p[focus][k], 3)}` : 'after the focused token';
    });
  }
  draw();
  return el('div', {}, el('h3', {}, 'Attention patterns'), el('div', { class: 'inline' }, layerSelect), heads,
    el('p', { class: 'muted' }, 'Hover a token: the others are shaded by how much it attends to them.'), strip, matrix);
}

function sampling(ctx, text) {
  const n = el('input', { class: 'num', type: 'number', value: 32, min: 1, max: 512, id: 'gen-n' });
  const temperature = el('input', { class: 'num', type: 'number', value: 0.8, step: 0.1, min: 0, id: 'gen-temperature' });
  const topK = el('input', { class: 'num', type: 'number', value: 0, min: 0, id: 'gen-top-k' });
  const topP = el('input', { class: 'num', type: 'number', value: 1, step: 0.05, min: 0, max: 1, id: 'gen-top-p' });
  const seed = el('input', { class: 'num', type: 'number', value: 0, id: 'gen-seed' });
  const button = el('button', { type: 'submit', id: 'gen-run' }, 'Generate');
  const out = el('div', { id: 'gen-output' });
  const form = el('form', { class: 'panel inline' },
    el('label', {}, 'tokens', n), el('label', {}, 'temperature (0 greedy)', temperature), el('label', {}, 'top-k', topK), el('label', {}, 'top-p', topP), el('label', {}, 'seed', seed), button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(button, 'generating…', async () => {
      try {
        const g = await api.post('/api/generate', { model: ctx.model, prompt: text.value, max_new_tokens: +n.value, temperature: +temperature.value, top_k: +topK.value, top_p: +topP.value, seed: +seed.value });
        out.replaceChildren(el('p', {}, el('span', { class: 'muted' }, text.value), el('strong', {}, g.text)));
      } catch (e) { out.replaceChildren(errorBox(e)); }
    });
  });
  return el('div', {}, el('h3', {}, 'Sampling'), form, out);
}
