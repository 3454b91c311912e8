// Auditor view: integrity status (latest signed checkpoint, "verify now"), a filterable timeline
// of audit entries, and an access report per patient. Plain module, no framework: the dashboard
// issue moves the web app to Vite + Preact. The session is the HttpOnly cookie the sign-in page
// set, so this script never sees a token. Every value from the server goes in via textContent.
import { $, api } from './api.js';

function cell(tr, text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (className) td.className = className;
  tr.append(td);
}

const OUTCOMES = { 0: 'success', 4: 'denied', 8: 'serious failure', 12: 'major failure' };
const when = (iso) => new Date(iso).toLocaleString();

// ---- integrity ----------------------------------------------------------------------------

async function loadCheckpoint() {
  try {
    const cp = await api('/api/audit/checkpoint');
    $('cp-size').textContent = String(cp.size);
    $('cp-root').textContent = cp.root;
    $('cp-time').textContent = when(cp.signedAt);
    $('cp-key').textContent = cp.vkey;
  } catch (err) {
    $('cp-size').textContent = err.status === 404 ? 'nothing signed yet' : err.message;
  }
}

$('verify').addEventListener('click', async () => {
  const status = $('verify-status');
  const button = $('verify');
  button.disabled = true;
  status.className = 'status';
  status.textContent = 'Verifying: recomputing the tree from every stored entry…';
  try {
    const r = await api('/api/audit/verify', { method: 'POST', body: '{}' });
    if (r.ok) {
      status.className = 'status ok';
      status.textContent = `Intact: ${r.size} entries, ${r.checkpoints} checkpoints checked, signed up to ${r.signedSize} (${r.ms} ms).`;
    } else {
      const f = r.firstBad;
      status.className = 'status bad';
      status.textContent = `TAMPERED: ${f?.kind ?? 'problem'}${f?.index !== undefined ? ` at entry ${f.index}` : ''} — ${f?.message ?? ''} (${r.problemCount} problem(s)).`;
    }
    await loadCheckpoint();
  } catch (err) {
    status.className = 'status bad';
    status.textContent = `Could not verify: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});

// ---- timeline -----------------------------------------------------------------------------

let filter = new URLSearchParams();
let oldest;

function query(before) {
  const q = new URLSearchParams(filter);
  q.set('order', 'desc');
  q.set('limit', '100');
  if (before !== undefined) q.set('to', String(before));
  return `/api/audit/entries?${q}`;
}

function row(seq, e) {
  const tr = document.createElement('tr');
  const glass = e.purpose === 'ETREAT' || e.detail?.breakGlass === true;
  if (e.outcome !== 0) tr.className = 'denied';
  else if (glass) tr.className = 'glass';
  cell(tr, String(seq));
  cell(tr, when(e.recorded));
  cell(tr, `${e.agent?.username ?? 'system'} (${e.agent?.role ?? '–'})`);
  cell(tr, e.type);
  cell(tr, OUTCOMES[e.outcome] ?? String(e.outcome));
  cell(tr, e.entity?.patientId ?? '', 'mono');
  cell(tr, glass ? `${e.purpose ?? ''} (break-the-glass)` : (e.purpose ?? ''));
  cell(tr, e.source);
  return tr;
}

async function loadEvents(append) {
  const status = $('timeline-status');
  try {
    const r = await api(query(append ? oldest : undefined));
    const tbody = $('events').querySelector('tbody');
    if (!append) tbody.replaceChildren();
    for (const { seq, entry } of r.entries) tbody.append(row(seq, entry));
    oldest = r.entries.at(-1)?.seq ?? oldest;
    $('older').hidden = r.entries.length < 100;
    status.textContent = tbody.children.length
      ? `${tbody.children.length} entries shown.`
      : 'No matching entries.';
  } catch (err) {
    status.textContent = `Could not load entries: ${err.message}`;
  }
}

$('filter').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  filter = new URLSearchParams();
  for (const [k, v] of form) {
    if (typeof v !== 'string' || v.trim() === '') continue;
    filter.set(k, k === 'since' || k === 'until' ? new Date(v).toISOString() : v.trim());
  }
  loadEvents(false);
});
$('older').addEventListener('click', () => loadEvents(true));

// ---- per-patient report -------------------------------------------------------------------

$('report-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = $('r-patient').value.trim();
  const status = $('report-status');
  const table = $('report-summary');
  try {
    const list = await api(`/api/patients/${encodeURIComponent(id)}/access-log?limit=1000`);
    const byUser = new Map();
    for (const a of list) {
      const key = `${a.who.username ?? 'system'}\u0000${a.who.role ?? ''}`;
      const s = byUser.get(key) ?? {
        user: a.who.username ?? 'system',
        role: a.who.role ?? '–',
        n: 0,
        denied: 0,
        glass: 0,
        last: a.recorded,
      };
      s.n++;
      if (a.outcome !== 0) s.denied++;
      if (a.breakGlass) s.glass++;
      if (a.recorded > s.last) s.last = a.recorded;
      byUser.set(key, s);
    }
    const tbody = table.querySelector('tbody');
    tbody.replaceChildren();
    for (const s of [...byUser.values()].sort((x, y) => y.n - x.n)) {
      const tr = document.createElement('tr');
      if (s.glass > 0) tr.className = 'glass';
      cell(tr, s.user);
      cell(tr, s.role);
      cell(tr, String(s.n));
      cell(tr, String(s.denied));
      cell(tr, String(s.glass));
      cell(tr, when(s.last));
      tbody.append(tr);
    }
    table.hidden = byUser.size === 0;
    status.textContent = `${list.length} accesses by ${byUser.size} users (latest 1000).`;
    // Show the same patient's entries in the timeline below the report.
    $('f-patient').value = id;
    filter = new URLSearchParams({ patientId: id });
    loadEvents(false);
  } catch (err) {
    table.hidden = true;
    status.textContent = `Could not load the report: ${err.message}`;
  }
});

// ---- start --------------------------------------------------------------------------------

async function start() {
  let me;
  try {
    me = await api('/api/me');
  } catch {
    try {
      await api('/api/auth/refresh', { method: 'POST' });
      me = await api('/api/me');
    } catch {
      $('gate').hidden = false;
      $('gate').textContent = 'Sign in first (on the CareWire start page), then come back here.';
      return;
    }
  }
  $('who').textContent = `Signed in as ${me.username} (${me.role})`;
  if (me.role !== 'auditor') {
    $('gate').hidden = false;
    $('gate').textContent = 'The audit log is for auditors.';
    return;
  }
  for (const id of ['integrity', 'timeline', 'report']) $(id).hidden = false;
  await loadCheckpoint();
  await loadEvents(false);
}

start();
