// Models: every model under the served folders; the chosen one's configuration and hook names (as `pinpoint info`).
import { api } from '../api.js';
import { el, table, errorBox } from '../ui.js';

export const id = 'models';
export const title = 'Models';

export async function render(root, ctx) {
  const list = el('div', { class: 'list panel' });
  const detail = el('div', { class: 'col' });
  root.append(el('h2', {}, 'Models under ', ctx.catalog.roots.join(', ')), el('div', { class: 'row' }, el('div', {}, list), detail));
  for (const m of ctx.catalog.models) {
    list.append(el('a', { class: m.name === ctx.model ? 'active' : null, 'data-model': m.name, onclick: () => ctx.useModel(m.name) },
      `${m.name} `, el('span', { class: 'muted' }, m.kind)));
  }
  try {
    const info = await api.get(`/api/info?model=${encodeURIComponent(ctx.model)}`);
    const t = info.tokenizer;
    detail.append(el('h3', {}, ctx.model), table(['property', 'value'], [
      ['path', info.path], ['format', info.format], ['architecture', info.architecture],
      ['layers × heads', `${info.n_layers} × ${info.n_heads} (kv ${info.n_kv_heads}), d_head ${info.d_head}`],
      ['d_model / d_mlp', `${info.d_model} / ${info.d_mlp}${info.gated_mlp ? ' (gated)' : ''}`],
      ['vocab / context', `${info.vocab_size} / ${info.context_length}`],
      ['norm', `${info.norm} (eps ${info.norm_eps})`], ['positions', info.positions + (info.rope ? ` (${info.rope.layout}, θ ${info.rope.theta})` : '')],
      ['activation', info.activation], ['parameters', info.parameter_count.toLocaleString('en')], ['weight dtypes', info.dtypes.join(', ')],
      ['tokenizer', `${t.kind}, vocab ${t.vocab_size}${t.adds_bos ? ', BOS prepended' : ''}`],
    ]), el('h3', {}, `${info.hooks.length} hook points`), el('pre', { class: 'hooks' }, info.hooks.join('\n')));
  } catch (e) {
    detail.append(errorBox(e));
  }
}
