/**
 * The peer's web view in the browser (page.html, served by the peer at /netpay/peer): reads
 * ./peer.json every second and fills the page. Amounts arrive formatted by the peer with the CIS's currency
 * (`text`), so nothing here computes money. Every value goes in as text, never as HTML: file names come
 * from other peers.
 */
const POLL_MS = 1000;

const byId = (id) => document.getElementById(id);

/** Sets an element's text; returns the element. */
function setText(id, text) {
  const el = byId(id);
  el.textContent = text ?? '';
  return el;
}

/** A table cell with text, optionally a class. */
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Bytes for people: 1023 B, 1.5 KiB, 12.0 MiB (sizes, not money). */
function size(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} ${units[0]}` : `${v.toFixed(1)} ${units[u]}`;
}

function showCis(view) {
  const c = view.cis;
  const error = byId('cis-error');
  error.hidden = c !== null;
  error.textContent = c === null ? `The CIS does not answer: ${view.cisError ?? ''}` : '';
  setText('cis-ratio', c ? (c.ratio ?? '– (nothing bought yet)') : '–');
  setText('cis-earnings', c ? c.earnings.text : '–');
  setText('cis-balance', c ? c.balance.text : '–');
  setText('cis-supply', c ? c.supply.text : '–');
  setText('cis-demand', c ? c.demand.text : '–');
  setText('cis-allowance', c ? `${c.allowance.text} / ${c.remaining.text}` : '–');
  setText('cis-frozen', c ? (c.frozen ? 'yes: this peer may not buy, others refuse it' : 'no') : '–');
}

function showSales(s) {
  setText('sales-accepted', s.accepted.text);
  setText('sales-redeemed', s.redeemed.text);
  setText('sales-waiting', s.awaitingRedemption.text);
  setText('sales-missing', s.missing.text).className = s.missing.minor === '0' ? '' : 'alert';
  setText('sales-chains', String(s.chains));
}

function downloadRow(d) {
  const tr = document.createElement('tr');
  tr.dataset.fileId = d.fileId;
  tr.dataset.state = d.state;
  const name = cell(d.name, 'name');
  name.title = d.path;
  const progress = document.createElement('td');
  const bar = document.createElement('progress');
  bar.max = Math.max(1, d.total);
  bar.value = d.bytes;
  const percent = d.total > 0 ? Math.floor((d.bytes * 100) / d.total) : d.state === 'done' ? 100 : 0;
  bar.setAttribute('aria-label', `${d.name}: ${percent}%`);
  progress.append(bar, ` ${percent}% · ${size(d.bytes)} of ${size(d.total)}`);
  const state = cell(d.error ? `${d.state}: ${d.error}` : d.state, `state state-${d.state}`);
  tr.append(
    name,
    progress,
    cell(d.spent.text, 'spent'),
    cell(String(d.sellers)),
    state,
    cell(new Date(d.updatedAt).toLocaleTimeString()),
  );
  return tr;
}

function fileRow(f) {
  const tr = document.createElement('tr');
  tr.dataset.fileId = f.fileId;
  tr.append(
    cell(f.name, 'name'),
    cell(size(f.size)),
    cell(String(f.chunks)),
    cell(f.price.text, 'price'),
    cell(f.fileId, 'id'),
  );
  return tr;
}

function show(view) {
  document.title = `NetPay peer ${view.peerId}`;
  setText('peer-id', view.peerId);
  setText('peer-url', view.url);
  showCis(view);
  showSales(view.sales);
  byId('downloads').replaceChildren(...view.downloads.map(downloadRow));
  byId('no-downloads').hidden = view.downloads.length > 0;
  byId('files').replaceChildren(...view.files.map(fileRow));
  setText(
    'file-count',
    view.fileCount > view.files.length
      ? `(${view.files.length} of ${view.fileCount})`
      : `(${view.fileCount})`,
  );
}

async function poll() {
  const problem = byId('problem');
  try {
    const res = await fetch('./peer.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`it answered ${res.status}`);
    show(await res.json());
    problem.hidden = true;
  } catch (e) {
    problem.textContent = `This peer does not answer: ${e instanceof Error ? e.message : String(e)}`;
    problem.hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

void poll();
