// Shepherd dashboard: one WebSocket to /v1/events of some master, resumed
// with since=<last index> on another master when it closes. No build step.
"use strict";

const STATUSES = ["scheduled", "pending", "running", "completed", "failed", "canceled"];
const MAX_EVENTS = 200;
const CHART_SECONDS = 300;

const S = {
  masters: [location.host],  // host:port of every master known
  current: null,             // host the socket is (or was last) connected to
  ws: null,
  lastIndex: 0,              // highest replicated index received
  seenAtLast: 0,             // events received with index == lastIndex
  skip: 0,                   // events with index == lastIndex to skip after resume
  reconnects: 0,
  backoff: 250,
  eventCount: 0,
  workers: new Map(),        // id -> wire worker
  counts: {},                // queue -> status -> n
  leader: null,              // {id, http_addr}
  leaderCommit: 0,
  applied: 0,
  rates: [],                 // [{t, submitted, completed}]
};

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const hostOf = (addr) => {
  if (!addr) return "";
  try { return addr.includes("://") ? new URL(addr).host : addr; } catch (_) { return addr; }
};
const base = (host) => location.protocol + "//" + host;

// ---- connection ----------------------------------------------------------

function connect(host) {
  S.current = host;
  const q = new URLSearchParams();
  if (S.lastIndex > 0 && S.seenAtLast === 0) {
    q.set("since", String(S.lastIndex));  // the index a snapshot reflected
    S.skip = 0;
  } else if (S.lastIndex > 0) {
    // Resume one index early and skip what we already have of it: a drop
    // in the middle of one entry's events loses none of the rest.
    q.set("since", String(S.lastIndex - 1));
    S.skip = S.seenAtLast;
  } else {
    q.set("snapshot", "true");
    S.skip = 0;
  }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + host + "/v1/events?" + q);
  S.ws = ws;
  $("#connected-addr").textContent = host;
  setStatus("connecting", false);
  ws.onopen = () => { S.backoff = 250; setStatus("connected", true); refreshCluster(); refreshFailed(); };
  ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { console.error(e); } };
  ws.onclose = (ev) => {
    if (S.ws !== ws) return;
    setStatus("disconnected (" + ev.code + ")", false);
    S.reconnects++;
    $("#reconnects").textContent = S.reconnects;
    // Code 1013 (too slow) may retry the same master; anything else moves on.
    const next = ev.code === 1013 ? host : nextMaster(host);
    setTimeout(() => connect(next), S.backoff);
    S.backoff = Math.min(S.backoff * 2, 4000);
  };
}

function nextMaster(host) {
  const list = S.masters.length ? S.masters : [location.host];
  const i = list.indexOf(host);
  return list[(i + 1) % list.length];
}

function setStatus(text, ok) {
  const s = $("#conn-status");
  s.textContent = text;
  s.className = ok ? "status-connected" : "status-disconnected";
}

// ---- events --------------------------------------------------------------

function handle(ev) {
  if (ev.node) $("#connected-node").textContent = ev.node;
  switch (ev.type) {
    case "stream.reset":
      addEventLine(ev, "gap", "stream.reset since " + ev.since + " (oldest held " + ev.oldest + ")");
      return;
    case "state.snapshot":
      applySnapshot(ev);
      return;
    case "node.metrics":
      applyMetrics(ev);
      return;
    case "node.leader_changed":
      S.leader = ev.leader;
      $("#leader").textContent = ev.leader ? ev.leader.id : "none";
      $("#term").textContent = ev.term;
      addEventLine(ev, "node", "leader " + (ev.leader ? ev.leader.id : "none") + " term " + ev.term);
      refreshCluster();
      return;
  }
  if (typeof ev.index === "number") {
    if (ev.index < S.lastIndex) return;          // already have it
    if (ev.index === S.lastIndex) {
      if (S.skip > 0) { S.skip--; return; }       // resumed one index early
      S.seenAtLast++;
    } else {
      S.lastIndex = ev.index;
      S.seenAtLast = 1;
      S.skip = 0;
    }
    $("#last-index").textContent = S.lastIndex;
  }
  S.eventCount++;
  $("#event-count").textContent = S.eventCount;
  applyEvent(ev);
  addEventLine(ev, "", describe(ev));
}

function describe(ev) {
  if (ev.task) {
    const t = ev.task;
    let s = ev.type + " #" + t.id + " " + t.name + " [" + t.queue + "]";
    if (t.worker_id) s += " on " + t.worker_id;
    if (t.error) s += ": " + t.error;
    return s;
  }
  if (ev.worker) return ev.type + " " + ev.worker.id + " (" + ev.worker.status + ")";
  if (ev.server) return ev.type + " " + ev.server.id + " " + (ev.reason || "");
  return ev.type;
}

function addEventLine(ev, cls, text, testid) {
  const id = ev.task ? String(ev.task.id) : ev.worker ? ev.worker.id : ev.server ? ev.server.id : "";
  const li = el("li", {"data-type": ev.type, "data-index": ev.index === undefined ? "" : ev.index, "data-id": id, "data-testid": testid || "event"});
  if (cls) li.className = cls;
  li.appendChild(el("span", {class: "idx"}, ev.index === undefined ? "·" : String(ev.index)));
  li.appendChild(document.createTextNode(text));
  const ul = $("#events");
  ul.insertBefore(li, ul.firstChild);
  while (ul.children.length > MAX_EVENTS) ul.removeChild(ul.lastChild);
}

function applySnapshot(ev) {
  S.lastIndex = ev.index;
  S.seenAtLast = 0;
  S.skip = 0;
  $("#last-index").textContent = S.lastIndex;
  S.counts = ev.counts || {};
  S.workers = new Map((ev.workers || []).map((w) => [w.id, w]));
  if (ev.cluster) applyCluster(ev.cluster, S.current);
  renderCounts();
  renderWorkers();
  // History up to the snapshot, shown once, on the first connection: it is
  // already counted in the snapshot, so it is listed and not applied.
  if (S.eventCount === 0 && !S.historyShown) {
    for (const h of ev.recent || []) addEventLine(h, "history", describe(h), "history");
    S.historyShown = true;
  }
  addEventLine(ev, "node", "state.snapshot at index " + ev.index);
}

function applyMetrics(ev) {
  S.counts = ev.queues || {};
  renderCounts();
  const r = ev.raft || {};
  S.applied = r.applied_index || 0;
  if (r.term) $("#term").textContent = r.term;
  if (r.leader) $("#leader").textContent = r.leader;
  renderLag(r);
  const rt = ev.rates || {};
  S.rates.push({t: Date.parse(ev.time) || Date.now(), submitted: rt.submitted || 0, completed: rt.completed || 0});
  while (S.rates.length > CHART_SECONDS) S.rates.shift();
  $("#rate-submitted").textContent = (rt.submitted || 0).toFixed(1);
  $("#rate-completed").textContent = (rt.completed || 0).toFixed(1);
  drawChart();
}

// roundDuration shortens a Go duration string: "36.785097ms" -> "37ms".
function roundDuration(d) {
  const m = /^([0-9.]+)(ns|µs|us|ms|s)$/.exec(String(d));
  if (!m) return d;
  const v = parseFloat(m[1]);
  return (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10) + m[2];
}

function renderLag(r) {
  // Lag behind the leader: the leader's commit index (when we could read
  // it) minus what this replica applied; else the replica's own view.
  let lag = r.lag || 0;
  if (S.leaderCommit > S.applied) lag = Math.max(lag, S.leaderCommit - S.applied);
  let s = lag + " entries";
  if (r.state !== "leader" && r.last_contact) s += " (leader contact " + roundDuration(r.last_contact) + " ago)";
  $("#lag").textContent = s;
}

function applyEvent(ev) {
  if (ev.worker) {
    S.workers.set(ev.worker.id, ev.worker);
    renderWorkers();
  }
  const t = ev.task;
  if (!t) return;
  if (ev.type === "task.leased" && t.worker_id) {
    const w = S.workers.get(t.worker_id);
    if (w && !w.running.includes(t.id)) { w.running.push(t.id); renderWorkers(); }
  } else if (t.status !== "running") {
    for (const w of S.workers.values()) {
      const i = (w.running || []).indexOf(t.id);
      if (i >= 0) { w.running.splice(i, 1); renderWorkers(); }
    }
  }
  if (ev.type === "task.failed") refreshFailedSoon();
}

// ---- rendering -----------------------------------------------------------

function renderCounts() {
  const totals = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  const body = $("#queues tbody");
  body.replaceChildren();
  for (const q of Object.keys(S.counts).sort()) {
    const tr = el("tr", {"data-queue": q, "data-testid": "queue-" + q});
    tr.appendChild(el("td", {}, q));
    for (const s of STATUSES) {
      const n = S.counts[q][s] || 0;
      totals[s] += n;
      tr.appendChild(el("td", {"data-status": s}, String(n)));
    }
    body.appendChild(tr);
  }
  for (const s of STATUSES) $("#count-" + s).textContent = totals[s];
}

function renderWorkers() {
  const body = $("#workers tbody");
  body.replaceChildren();
  for (const w of [...S.workers.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const tr = el("tr", {"data-worker-id": w.id, "data-testid": "worker-" + w.id});
    tr.appendChild(el("td", {}, w.id));
    tr.appendChild(el("td", {"data-field": "status"}, w.status));
    tr.appendChild(el("td", {}, pct(w.cpu)));
    tr.appendChild(el("td", {}, pct(w.memory)));
    tr.appendChild(el("td", {}, (w.running || []).length + "/" + w.capacity));
    body.appendChild(tr);
  }
}

const pct = (x) => (x === undefined || x === null) ? "-" : Math.round(x * 100) + "%";

function drawChart() {
  const c = $("#throughput");
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth || 600, h = c.clientHeight || 160;
  if (c.width !== w * dpr) { c.width = w * dpr; c.height = h * dpr; }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = 28;
  const maxY = Math.max(1, ...S.rates.map((r) => Math.max(r.submitted, r.completed)));
  g.strokeStyle = "#ddd"; g.fillStyle = "#889"; g.font = "10px sans-serif";
  for (let i = 0; i <= 4; i++) {
    const y = h - pad / 2 - (h - pad) * i / 4;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
    g.fillText((maxY * i / 4).toFixed(maxY < 8 ? 1 : 0), 0, y + 3);
  }
  const now = Date.now();
  const x = (t) => pad + (w - pad) * (1 - (now - t) / (CHART_SECONDS * 1000));
  const y = (v) => h - pad / 2 - (h - pad) * v / maxY;
  for (const [key, color] of [["submitted", "#3b6fd1"], ["completed", "#2a9d5b"]]) {
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    S.rates.forEach((r, i) => (i ? g.lineTo : g.moveTo).call(g, x(r.t), y(r[key])));
    g.stroke();
  }
}

// ---- HTTP reads (the master we read from) ------------------------------

async function getJSON(host, path) {
  const r = await fetch(base(host) + path, {cache: "no-store"});
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}

async function refreshCluster() {
  const host = S.current || location.host;
  let st;
  try { st = await getJSON(host, "/v1/cluster"); } catch (_) { return; }
  applyCluster(st, host);
  // Each master's own term and applied index, where it answers us.
  for (const s of st.servers || []) {
    const h = hostOf(s.http_addr);
    if (!h || h === host) continue;
    getJSON(h, "/v1/cluster").then((o) => fillMaster(s.id, o)).catch(() => fillMaster(s.id, null));
  }
}

function applyCluster(st, host) {
  const masters = (st.servers || []).map((s) => hostOf(s.http_addr)).filter(Boolean);
  if (masters.length) S.masters = masters;
  if (!S.masters.includes(location.host)) S.masters.push(location.host);
  if (st.leader) {
    S.leader = st.leader;
    $("#leader").textContent = st.leader.id;
  }
  $("#term").textContent = st.term;
  const body = $("#cluster tbody");
  body.replaceChildren();
  for (const s of st.servers || []) {
    const tr = el("tr", {"data-master": s.id, "data-testid": "master-" + s.id, "data-state": s.state});
    if (st.leader && st.leader.id === s.id) tr.classList.add("leader");
    if (hostOf(s.http_addr) === host) tr.classList.add("self");
    for (const v of [s.id, s.http_addr, s.state, "", "", ""]) tr.appendChild(el("td", {}, v));
    body.appendChild(tr);
    if (hostOf(s.http_addr) === host) fillMaster(s.id, st);
  }
}

function fillMaster(id, st) {
  const tr = document.querySelector('#cluster tr[data-master="' + CSS.escape(id) + '"]');
  if (!tr) return;
  const td = tr.children;
  tr.classList.toggle("down", !st);
  if (!st) td[2].textContent = "unreachable";
  td[3].textContent = st ? st.term : "?";
  td[4].textContent = st ? st.commit_index : "?";
  td[5].textContent = st ? st.applied_index : "?";
  if (st && S.leader && S.leader.id === id) S.leaderCommit = st.commit_index;
}

let failedTimer = null;
function refreshFailedSoon() {
  if (!failedTimer) failedTimer = setTimeout(() => { failedTimer = null; refreshFailed(); }, 500);
}

async function refreshFailed() {
  let list;
  try { list = await getJSON(S.current || location.host, "/v1/tasks?status=failed&limit=50"); } catch (_) { return; }
  const body = $("#failed tbody");
  body.replaceChildren();
  for (const t of list.tasks || []) {
    const tr = el("tr", {"data-task-id": t.id, "data-testid": "failed-" + t.id});
    tr.appendChild(el("td", {}, String(t.id)));
    tr.appendChild(el("td", {}, t.name));
    tr.appendChild(el("td", {}, t.queue));
    tr.appendChild(el("td", {}, t.attempt + "/" + t.max_attempts));
    tr.appendChild(el("td", {class: "error"}, t.error));
    body.appendChild(tr);
  }
}

$("#task-search").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("#task-search-id").value.trim();
  const out = $("#task-search-result");
  if (!/^\d+$/.test(id)) { out.textContent = "enter a task id"; return; }
  try {
    out.textContent = JSON.stringify(await getJSON(S.current || location.host, "/v1/tasks/" + id), null, 2);
  } catch (err) {
    out.textContent = "task " + id + ": " + err.message;
  }
});

setInterval(refreshCluster, 2000);
setInterval(refreshFailed, 5000);
setInterval(drawChart, 1000);
connect(location.host);
