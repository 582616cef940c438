// The status page's script: polls /status.json (a SandboxStatus, lib/runtime/sandbox/sandbox-status.ts)
// and redraws. Every string it draws comes from processes, so it builds elements and sets
// textContent and attributes only: nothing it receives is ever parsed as HTML.

const refreshMs = Number(document.querySelector('meta[name="sluice-refresh-ms"]')?.getAttribute('content')) || 1000;
/** Longer than the server's own snapshot timeout, so its explanation arrives before ours. */
const fetchTimeoutMs = refreshMs + 10_000;

let lastUpdate;

async function refresh() {
  try {
    const response = await fetch('/status.json', { cache: 'no-store', signal: AbortSignal.timeout(fetchTimeoutMs) });
    const body = await response.json().catch(() => ({ error: `the status page answered ${response.status} without JSON` }));
    if (!response.ok) throw new Error(body.error ?? `the status page answered ${response.status}`);
    draw(body);
    lastUpdate = Date.now();
    showConnection('live', `live · updated ${clock(lastUpdate)}`);
  } catch (error) {
    const since = lastUpdate === undefined ? 'not answering' : `not answering since ${clock(lastUpdate)} (the figures below are from then)`;
    showConnection('stale', `${since}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    // One poll at a time: the next starts only after this one ended, however long it took.
    setTimeout(refresh, refreshMs);
  }
}

function draw(status) {
  drawUrl(status.url);
  drawTargets(status.targets ?? []);
  setText('requests-per-second', rate(status.requestsPerSecond));
  setFigure('errors-per-second', rate(status.errorsPerSecond), status.errorsPerSecond > 0);
  setText('queue-depth', count(status.queue?.depth));
  setText('queue-in-flight', count(status.queue?.inFlight));
  setFigure('dead-letter-depth', count(status.queue?.deadLetterDepth), status.queue?.deadLetterDepth > 0);
  drawStream(status.stream?.shards ?? []);
  drawRelease(status.release);
}

function drawUrl(url) {
  const link = document.getElementById('sandbox-url');
  link.textContent = url ?? '–';
  // Only a web address becomes a link: a `javascript:` URL from a process must not be clickable.
  if (typeof url === 'string' && /^https?:\/\//i.test(url)) link.setAttribute('href', url);
  else link.removeAttribute('href');
}

function drawTargets(targets) {
  const rows = targets.map((target) => {
    const row = tableRow([target.name, target.port, target.version ?? '(no answer)', target.state]);
    row.dataset.target = String(target.name);
    row.dataset.state = String(target.state);
    return row;
  });
  replaceRows('targets', rows, 4, 'no targets');
}

function drawStream(shards) {
  const rows = shards.map((shard) => {
    const row = tableRow([shard.shardId, shard.leaseOwner ?? '(no owner)', shard.checkpoint ?? '–', count(shard.lagRecords), shard.millisBehindLatest === undefined ? '–' : `${count(shard.millisBehindLatest)} ms`]);
    row.dataset.shard = String(shard.shardId);
    if (shard.leaseOwner === undefined) row.dataset.unowned = 'true';
    return row;
  });
  replaceRows('shards', rows, 5, 'no shards');
  const lag = shards.reduce((sum, shard) => sum + (Number(shard.lagRecords) || 0), 0);
  const behind = Math.max(0, ...shards.map((shard) => Number(shard.millisBehindLatest) || 0));
  setFigure('stream-lag', `${count(lag)} records, ${count(behind)} ms behind latest`, lag > 0);
}

function drawRelease(release) {
  const summary = document.getElementById('release-summary');
  const timeline = document.getElementById('timeline');
  if (release === undefined || release === null) {
    summary.textContent = 'no release yet: run the sluice release command the sandbox printed';
    delete summary.dataset.state;
    timeline.replaceChildren();
    return;
  }
  summary.textContent = `${release.fromVersion ?? '?'} → ${release.toVersion} · ${release.state}`;
  summary.dataset.state = String(release.state);
  const entries = release.timeline ?? [];
  const startedAt = entries[0]?.at;
  // Keep following the newest entry unless the reader scrolled back to look at an older one.
  const following = timeline.scrollTop + timeline.clientHeight >= timeline.scrollHeight - 4;
  timeline.replaceChildren(...entries.map((entry) => timelineItem(entry, startedAt)));
  if (following) timeline.scrollTop = timeline.scrollHeight;
}

function timelineItem(entry, startedAt) {
  const item = document.createElement('li');
  item.dataset.event = String(entry.event);
  const known = Number.isFinite(entry.at) && Number.isFinite(startedAt);
  const time = element('time', known ? clock(entry.at) : '–');
  if (known) time.setAttribute('datetime', new Date(entry.at).toISOString());
  item.append(time, element('span', known ? `+${((entry.at - startedAt) / 1000).toFixed(1)} s` : '', 'offset'), element('span', entry.event, 'event'));
  if (entry.target !== undefined) item.append(element('span', entry.target, 'target'));
  if (entry.version !== undefined) item.append(element('span', entry.version, 'version'));
  if (entry.detail !== undefined) item.append(element('span', entry.detail, 'detail'));
  return item;
}

function showConnection(state, text) {
  const connection = document.getElementById('connection');
  connection.dataset.state = state;
  connection.textContent = text;
  document.body.dataset.connection = state;
}

// --- drawing helpers -------------------------------------------------------------------------

function element(tag, text, className) {
  const created = document.createElement(tag);
  created.textContent = String(text);
  if (className !== undefined) created.className = className;
  return created;
}

function tableRow(cells) {
  const row = document.createElement('tr');
  row.append(...cells.map((cell) => element('td', cell ?? '–')));
  return row;
}

function replaceRows(tableId, rows, columns, emptyText) {
  const body = document.querySelector(`#${tableId} tbody`);
  if (rows.length > 0) {
    body.replaceChildren(...rows);
    return;
  }
  const cell = element('td', emptyText, 'empty');
  cell.colSpan = columns;
  const row = document.createElement('tr');
  row.append(cell);
  body.replaceChildren(row);
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

/** A figure that turns red when it is a problem (errors, dead letters, lag). */
function setFigure(id, text, alarming) {
  const figure = document.getElementById(id);
  figure.textContent = text;
  figure.classList.toggle('alarming', Boolean(alarming));
}

function rate(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(1) : '–';
}

function count(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US') : '–';
}

/** Local wall-clock time with milliseconds: the timeline's steps are often under a second apart. */
function clock(at) {
  const date = new Date(at);
  const pad = (value, width = 2) => String(value).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

void refresh();
