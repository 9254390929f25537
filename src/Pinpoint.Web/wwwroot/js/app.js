// The shell: tabs (one module per page), the model every page works on, and hash routing (#prompt, #explain, ...).
// A new page (features, steering, editing) is one module under pages/ exporting {id, title, render(root, ctx)}, listed in PAGES.
import { api } from './api.js';
import { el, errorBox } from './ui.js';
import * as models from './pages/models.js';
import * as prompt from './pages/prompt.js';
import * as explain from './pages/explain.js';
import * as circuit from './pages/circuit.js';
import * as runs from './pages/runs.js';

const PAGES = [models, prompt, explain, circuit, runs];

const ctx = {
  model: null,
  catalog: null,
  /** Makes a model the current one (the header's picker follows) and, optionally, opens a page. */
  useModel(name, page) {
    ctx.model = name;
    const select = document.getElementById('model');
    if (![...select.options].some(o => o.value === name)) select.append(el('option', { value: name }, name));
    select.value = name;
    sessionStorage.setItem('pinpoint.model', name);
    if (page) go(page); else show();
  },
  go: (page) => go(page),
};

function go(page) {
  if (location.hash === `#${page}`) show(); else location.hash = page;
}

function show() {
  const id = location.hash.slice(1) || 'prompt';
  const page = PAGES.find(p => p.id === id) ?? prompt;
  document.querySelectorAll('#tabs a').forEach(a => a.classList.toggle('active', a.dataset.page === page.id));
  const root = document.getElementById('page');
  root.replaceChildren();
  document.title = `Pinpoint · ${page.title}`;
  Promise.resolve(page.render(root, ctx)).catch(e => root.prepend(errorBox(e)));
}

async function start() {
  document.getElementById('tabs').replaceChildren(...PAGES.map(p => el('a', { href: `#${p.id}`, 'data-page': p.id }, p.title)));
  const select = document.getElementById('model');
  try {
    ctx.catalog = await api.get('/api/models');
    const names = ctx.catalog.models.map(m => m.name);
    select.replaceChildren(...names.map(n => el('option', { value: n }, n)));
    const remembered = sessionStorage.getItem('pinpoint.model');
    ctx.model = remembered ?? (names.includes(ctx.catalog.default_model) ? ctx.catalog.default_model : names[0]);
    if (remembered && !names.includes(remembered)) select.append(el('option', { value: remembered }, remembered));
    select.value = ctx.model;
  } catch (e) {
    document.getElementById('page').replaceChildren(errorBox(e));
    return;
  }
  select.addEventListener('change', () => ctx.useModel(select.value));
  window.addEventListener('hashchange', show);
  show();
}

start();
