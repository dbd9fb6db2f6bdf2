// SPDX-License-Identifier: MIT
// The chuted dashboard's code: asks once for the API token (sessionStorage,
// never in a URL), reads /v1 with "Authorization: Bearer", draws the tables,
// the stored-bytes chart (inline SVG) and the snapshot browser. Text from the
// daemon only ever goes into textContent: a file name cannot inject markup.
'use strict';

const TOKEN_KEY = 'chute-api-token';
const REFRESH_MS = 5000;
const RECENT = 20;
const $ = (id) => document.getElementById(id);

let timer = null;
let roots = [];

// ---- helpers ----------------------------------------------------------------

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (v !== undefined && v !== null) e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function bytes(n) {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

// RFC 3339 with nanoseconds: keep milliseconds for Date
function when(t) {
  if (!t) return null;
  const d = new Date(String(t).replace(/(\.\d{3})\d*Z$/, '$1Z'));
  return isNaN(d) ? null : d;
}

function timeText(t) {
  const d = when(t);
  return d ? d.toLocaleString() : '';
}

function shortId(id) { return id ? String(id).slice(0, 12) : ''; }

function replaceRows(table, rows) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...rows);
}

function showError(text) { $('error').textContent = text || ''; }

// ---- the token and the API ---------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function askToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (timer) clearInterval(timer);
  timer = null;
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

class ApiError extends Error {}

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + token() };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    askToken('The token was refused: chutectl api-token prints the one in force.');
    throw new ApiError('unauthorized');
  }
  return res;
}

async function apiJson(method, path, body) {
  const res = await api(method, path, body);
  const doc = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError((doc && doc.message) || res.status + ' ' + res.statusText);
  return doc;
}

// ---- the views -----------------------------------------------------------------

function drawStatus(st) {
  const items = [
    ['state', st.state], ['version', st.version], ['uptime', st.uptime + ' s'],
    ['snapshots', st.snapshot_count], ['objects', st.objects], ['packs', st.packs],
    ['stored', bytes(st.bytes)], ['pending changes', st.pending], ['local copy', st.local_copy],
  ];
  $('status').replaceChildren(...items.filter(([, v]) => v !== undefined)
    .flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('summary').textContent = (st.state || '') + ' · ' + (st.roots || []).length + ' roots';
}

function drawRoots(st) {
  roots = st.roots || [];
  replaceRows('roots', roots.map((r) => el('tr', { dataset: { path: r.path } },
    el('td', {}, el('code', {}, r.path)),
    el('td', {}, r.state),
    el('td', {}, r.time ? timeText(r.time) + ' (' + shortId(r.id) + ')' : 'none yet'),
    el('td', { className: 'num' }, r.pending ?? 0),
    el('td', { className: 'num' }, r.watches ?? ''))));
  $('snapshot-now').disabled = roots.length === 0;
}

function drawStores(doc) {
  const stores = (doc && doc.stores) || [];
  if (stores.length === 0) {
    replaceRows('stores', [el('tr', {}, el('td', { colSpan: 7 }, 'no stores (chutectl store add, chutectl peer add)'))]);
    return;
  }
  replaceRows('stores', stores.map((s) => el('tr', { dataset: { name: s.name } },
    el('td', {}, s.name), el('td', {}, s.kind), el('td', {}, s.connected ? 'yes' : 'no'),
    el('td', { className: 'num' }, (s.pending ?? 0) + ' packs, ' + bytes(s.pending_bytes ?? 0)),
    el('td', { className: 'num' }, (s.verified ?? 0) + (s.verified_at ? ' at ' + timeText(s.verified_at) : '')),
    el('td', { className: 'num' }, (s.packs ?? 0) + ' packs, ' + bytes(s.bytes ?? 0)),
    el('td', { className: 'error' }, s.error || ''))));
}

function drawSnapshots(list) {
  const recent = list.slice(-RECENT).reverse();
  replaceRows('snapshots', recent.map((s) => el('tr', { dataset: { id: s.id } },
    el('td', {}, el('code', { title: s.id }, shortId(s.id))),
    el('td', {}, timeText(s.time)),
    el('td', {}, el('code', {}, s.root)),
    el('td', { className: 'num' }, s.files ?? ''),
    el('td', { className: 'num' }, bytes(s.bytes)),
    el('td', { className: 'num' }, bytes(s.new_bytes)),
    el('td', {}, el('button', { type: 'button', className: 'browse', onclick: () => browse(s, '') }, 'Browse')))));
}

// Stored bytes over time: each snapshot adds its new bytes to the repository.
function drawChart(list) {
  const W = 640, H = 200, L = 70, R = 10, T = 10, B = 30;
  const pts = [];
  let total = 0;
  for (const s of list) {
    const d = when(s.time);
    if (!d) continue;
    total += s.new_bytes || 0;
    pts.push({ t: d.getTime(), v: total, s });
  }
  pts.sort((a, b) => a.t - b.t);
  const box = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': 'stored bytes over time' });
  if (pts.length === 0) {
    box.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no snapshots yet'));
    $('chart').replaceChildren(box);
    return;
  }
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const vmax = Math.max(pts[pts.length - 1].v, 1);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => H - B - (v / vmax) * (H - T - B);
  box.append(svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }));
  box.append(svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
  box.append(svg('text', { x: L - 4, y: T + 10, 'text-anchor': 'end', class: 'label' }, bytes(vmax)));
  box.append(svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end', class: 'label' }, '0'));
  box.append(svg('text', { x: L, y: H - 8, class: 'label' }, new Date(t0).toLocaleString()));
  box.append(svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'label' }, new Date(t1).toLocaleString()));
  const line = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  if (pts.length === 1) line.push(`${W - R},${y(pts[0].v).toFixed(1)}`);
  box.append(svg('polyline', { points: line.join(' '), class: 'series' }));
  for (const p of pts) {
    const c = svg('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 3, class: 'point' });
    c.append(svg('title', {}, `${timeText(p.s.time)}: ${bytes(p.v)} (${shortId(p.s.id)})`));
    box.append(c);
  }
  $('chart').replaceChildren(box);
}

// The snapshot list is read again only when the status says it changed
// (another count, another last snapshot of a root): it may be long.
let listKey = null;

async function refresh() {
  if (document.hidden) return; // a background tab asks nothing
  try {
    const [st, stores] = await Promise.all([apiJson('GET', '/v1/status'), apiJson('GET', '/v1/stores')]);
    drawStatus(st);
    drawRoots(st);
    drawStores(stores);
    const key = st.snapshot_count + ' ' + (st.roots || []).map((r) => r.id).join(' ');
    if (key !== listKey) {
      const snaps = await apiJson('GET', '/v1/snapshots');
      drawSnapshots(snaps.snapshots || []);
      drawChart(snaps.snapshots || []);
      listKey = key;
    }
    showError('');
  } catch (e) {
    if (!(e instanceof ApiError && e.message === 'unauthorized')) showError('Cannot reach chuted: ' + e.message);
  }
}

async function snapshotNow() {
  const button = $('snapshot-now');
  button.disabled = true;
  $('snapshot-message').textContent = 'taking a snapshot…';
  try {
    const taken = [];
    for (const r of roots) {
      const doc = await apiJson('POST', '/v1/snapshots', { path: r.path });
      for (const s of doc.snapshots || []) taken.push(shortId(s.id));
    }
    $('snapshot-message').textContent = 'taken: ' + taken.join(', ');
  } catch (e) {
    $('snapshot-message').textContent = 'snapshot failed: ' + e.message;
  } finally {
    button.disabled = false;
    await refresh();
  }
}

// ---- the snapshot browser -------------------------------------------------------

function join(dir, name) { return dir ? dir + '/' + name : name; }
// A path for a query: the API writes each byte of a name that is not UTF-8
// as U+DC80..U+DCFF (0xDC00 + the byte), which encodeURIComponent refuses
// (a lone surrogate); those go back as that byte, %XX, the rest as UTF-8.
function encodePath(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) {
      out += '%' + (c - 0xdc00).toString(16).toUpperCase();
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      out += encodeURIComponent(s.slice(i, i + 2)); // a character outside the BMP
      i++;
    } else {
      out += encodeURIComponent(s[i]);
    }
  }
  return out;
}
// the API takes absolute paths: the snapshot's root and the path inside it
function abs(snap, rel) { return rel ? snap.root.replace(/\/$/, '') + '/' + rel : snap.root; }

async function browse(snap, dir) {
  const q = dir ? '?path=' + encodePath(abs(snap, dir)) : '';
  $('browser').hidden = false;
  $('browse-id').textContent = shortId(snap.id) + ' ' + snap.root;
  const crumbs = [el('button', { type: 'button', className: 'crumb', onclick: () => browse(snap, '') }, snap.root)];
  let at = '';
  for (const part of dir ? dir.split('/') : []) {
    at = join(at, part);
    const to = at;
    crumbs.push(' / ', el('button', { type: 'button', className: 'crumb', onclick: () => browse(snap, to) }, part));
  }
  $('crumbs').replaceChildren(...crumbs);
  try {
    const doc = await apiJson('GET', `/v1/snapshots/${encodeURIComponent(snap.id)}/tree${q}`);
    const entries = (doc.entries || []).slice().sort((a, b) =>
      (b.kind === 'dir') - (a.kind === 'dir') || String(a.path).localeCompare(String(b.path)));
    replaceRows('entries', entries.map((e) => {
      const rel = join(dir, e.path);
      const name = e.kind === 'dir'
        ? el('button', { type: 'button', className: 'dir', onclick: () => browse(snap, rel) }, e.path + '/')
        : el('span', {}, e.kind === 'symlink' ? e.path + ' → ' + (e.link_target || '') : e.path);
      const action = e.kind === 'file'
        ? el('button', { type: 'button', className: 'download', onclick: () => download(snap, rel, e.path) }, 'Download')
        : '';
      return el('tr', { dataset: { name: e.path } }, el('td', {}, name), el('td', {}, e.kind),
        el('td', { className: 'num' }, e.kind === 'file' ? bytes(e.size) : ''),
        el('td', {}, e.mtime ? timeText(e.mtime) : ''), el('td', {}, action));
    }));
    showError('');
  } catch (e) {
    showError('Cannot list ' + (dir || snap.root) + ': ' + e.message);
  }
}

// The file endpoint needs the bearer header, so a plain link cannot fetch
// it: fetch, take the body as a blob, and save that through an object URL.
async function download(snap, rel, name) {
  try {
    const res = await api('GET', `/v1/snapshots/${encodeURIComponent(snap.id)}/file?path=${encodePath(abs(snap, rel))}`);
    if (!res.ok) {
      const doc = await res.json().catch(() => null);
      throw new ApiError((doc && doc.message) || String(res.status));
    }
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    showError('Cannot download ' + rel + ': ' + e.message);
  }
}

// ---- start ------------------------------------------------------------------------

function showMain() {
  listKey = null;
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  refresh();
  if (!timer) timer = setInterval(refresh, REFRESH_MS);
}
document.addEventListener('visibilitychange', () => { if (!document.hidden && token()) refresh(); });

document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim().toLowerCase());
    $('token').value = '';
    showMain();
  });
  $('logout').addEventListener('click', () => askToken(''));
  $('snapshot-now').addEventListener('click', snapshotNow);
  if (token()) showMain(); else askToken('');
});
