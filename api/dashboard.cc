#include "api/dashboard.h"

#include <httplib.h>

namespace consensusd::api {
namespace {

// Element ids and data attributes are the page's contract with its browser test
// (tests/dashboard): #project-picker, #headline [data-stat], #workers-table
// th[data-sort], tr[data-worker], #worker-page, #confusion td[data-true]
// [data-answered][data-value], #review-table, #ingest-rate.
constexpr std::string_view kHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>consensusd</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1c2330; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bad:#dc2626; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; gap:16px; align-items:center; padding:12px 20px; background:#111827; color:#fff; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header select, header input { font:inherit; padding:4px 6px; border-radius:4px; border:1px solid #374151; }
  header .right { margin-left:auto; display:flex; gap:14px; align-items:center; }
  .dot { display:inline-block; width:9px; height:9px; border-radius:50%; background:#9ca3af; margin-right:5px; }
  .dot.ok { background:#22c55e; } .dot.bad { background:var(--bad); }
  main { padding:16px 20px; display:grid; gap:16px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
  .card h2 { font-size:15px; margin:0 0 10px; }
  #headline { display:grid; grid-template-columns:repeat(auto-fill,minmax(140px,1fr)); gap:10px; }
  .stat { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
  .stat .v { font-size:20px; font-weight:600; } .stat .k { color:var(--muted); font-size:12px; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th[data-sort] { cursor:pointer; color:var(--accent); user-select:none; }
  th.sorted::after { content:attr(data-arrow); margin-left:4px; }
  tr[data-worker] { cursor:pointer; } tr[data-worker]:hover { background:#eef2ff; }
  .flag { color:var(--bad); font-weight:600; }
  .grid2 { display:grid; grid-template-columns: 2fr 1fr; gap:16px; }
  #confusion td.cell { text-align:center; min-width:54px; font-variant-numeric:tabular-nums; }
  button { font:inherit; padding:5px 10px; border-radius:4px; border:1px solid var(--line); background:#fff; cursor:pointer; }
  button.danger { border-color:var(--bad); color:var(--bad); }
  .muted { color:var(--muted); } .hidden { display:none; }
  a { color:var(--accent); }
</style>
</head>
<body>
<header>
  <h1>consensusd</h1>
  <label>project <select id="project-picker"></select></label>
  <div class="right">
    <span><span id="ready-dot" class="dot"></span><span id="ready-text">…</span></span>
    <span>ingest <b id="ingest-rate">–</b> answers/s</span>
    <input id="admin-token" type="password" placeholder="admin token" size="14" title="enables exclude/include">
  </div>
</header>
<main>
  <section class="card"><h2 id="project-title">Project</h2><div id="headline"></div></section>
  <section id="worker-page" class="card hidden">
    <h2>Worker <span id="worker-name"></span> <a href="#" id="worker-back">← all workers</a></h2>
    <div class="grid2">
      <div><div class="muted">confusion matrix: rows = true class, columns = answered class</div><table id="confusion"></table></div>
      <div id="worker-stats"></div>
    </div>
    <div id="worker-admin" class="hidden" style="margin-top:10px">
      <button id="exclude-btn" class="danger">Exclude worker</button>
      <button id="include-btn">Include worker</button>
      <span id="admin-result" class="muted"></span>
    </div>
  </section>
  <div class="grid2">
    <section class="card"><h2>Workers <span class="muted" id="workers-total"></span></h2>
      <table id="workers-table"><thead><tr>
        <th>worker</th><th data-sort="answers">answers</th><th data-sort="accuracy">accuracy</th>
        <th data-sort="spam">spam score</th><th>gold accuracy</th><th>agreement</th><th>flags</th>
      </tr></thead><tbody></tbody></table>
    </section>
    <section class="card"><h2>Review queue <span class="muted" id="review-count"></span></h2>
      <table id="review-table"><thead><tr><th>task</th><th>label</th><th>confidence</th><th>answers</th></tr></thead><tbody></tbody></table>
    </section>
  </div>
</main>
<script>
"use strict";
const state = { project: null, sort: "answers", order: "desc", worker: null, lastCommitted: null, lastTime: null };
const $ = (id) => document.getElementById(id);
const fmt = (v, d = 3) => v === null || v === undefined ? "–" : (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString() : v.toFixed(d)) : String(v));
const enc = encodeURIComponent;
async function api(path, opts) {
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function route() {
  const m = location.hash.match(/^#\/p\/([^/]+)(?:\/w\/(.+))?$/);
  return m ? { project: decodeURIComponent(m[1]), worker: m[2] ? decodeURIComponent(m[2]) : null } : {};
}
async function loadProjects() {
  const { projects } = await api("/v1/projects");
  const picker = $("project-picker");
  const current = route().project || state.project || (projects[0] && projects[0].project);
  picker.replaceChildren(...projects.map(p => { const o = el("option", { value: p.project }, p.project); if (p.project === current) o.selected = true; return o; }));
  if (current && current !== state.project) { state.project = current; }
}
async function loadHeadline() {
  if (!state.project) return;
  const p = await api(`/v1/projects/${enc(state.project)}`);
  $("project-title").textContent = `Project ${p.project}`;
  const sweep = p.last_sweep || {};
  const stats = [["tasks", p.tasks], ["workers", p.workers], ["answers", p.answers], ["classes", p.classes.length],
    ["mean confidence", p.mean_confidence], ["Krippendorff α", p.krippendorff_alpha], ["flagged workers", p.workers_flagged],
    ["needs review", p.tasks_needing_review], ["EM iterations", sweep.iterations], ["last sweep (s)", sweep.seconds]];
  $("headline").replaceChildren(...stats.map(([k, v]) => { const d = el("div", { class: "stat", "data-stat": k }); d.append(el("div", { class: "v" }, fmt(v)), el("div", { class: "k" }, k)); return d; }));
}
async function loadWorkers() {
  if (!state.project) return;
  const r = await api(`/v1/projects/${enc(state.project)}/workers?sort=${state.sort}&order=${state.order}&limit=200`);
  $("workers-total").textContent = `(${r.total})`;
  document.querySelectorAll("#workers-table th[data-sort]").forEach(th => {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.dataset.arrow = state.order === "asc" ? "▲" : "▼";
  });
  $("workers-table").tBodies[0].replaceChildren(...r.items.map(w => {
    const tr = el("tr", { "data-worker": w.worker });
    const flags = (w.flagged ? "flagged " : "") + (w.excluded ? "excluded" : "");
    [w.worker, fmt(w.answers), fmt(w.accuracy), fmt(w.spam_score), fmt(w.gold_accuracy), fmt(w.agreement)].forEach(t => tr.append(el("td", {}, t)));
    tr.append(el("td", { class: flags ? "flag" : "" }, flags));
    tr.addEventListener("click", () => { location.hash = `#/p/${enc(state.project)}/w/${enc(w.worker)}`; });
    return tr;
  }));
}
async function loadReview() {
  if (!state.project) return;
  const r = await api(`/v1/projects/${enc(state.project)}/tasks?needs_review=true&limit=50`);
  $("review-count").textContent = `(${r.items.length}${r.next_cursor ? "+" : ""})`;
  $("review-table").tBodies[0].replaceChildren(...r.items.map(t => {
    const tr = el("tr", { "data-task": t.task });
    [t.task, t.label, fmt(t.confidence), fmt(t.answers)].forEach(x => tr.append(el("td", {}, x)));
    return tr;
  }));
}
function heat(v) { const a = Math.max(0, Math.min(1, v)); return `rgba(37, 99, 235, ${(0.08 + 0.85 * a).toFixed(3)})`; }
async function loadWorker() {
  const page = $("worker-page");
  if (!state.worker) { page.classList.add("hidden"); return; }
  const w = await api(`/v1/projects/${enc(state.project)}/workers/${enc(state.worker)}`);
  page.classList.remove("hidden");
  $("worker-name").textContent = w.worker;
  const table = $("confusion");
  const head = el("tr"); head.append(el("th", {}, "true \\ answered"));
  w.classes.forEach(c => head.append(el("th", {}, c)));
  const rows = w.confusion_matrix.map((row, k) => {
    const tr = el("tr"); tr.append(el("th", {}, w.classes[k]));
    row.forEach((v, l) => {
      const td = el("td", { class: "cell", "data-true": w.classes[k], "data-answered": w.classes[l], "data-value": String(v) }, v.toFixed(2));
      td.style.background = heat(v); if (v > 0.6) td.style.color = "#fff";
      tr.append(td);
    });
    return tr;
  });
  table.replaceChildren(head, ...rows);
  const stats = [["answers", w.answers], ["accuracy", w.accuracy], ["gold accuracy", w.gold_accuracy], ["gold answers", w.gold_answers],
    ["agreement", w.agreement], ["spam score", w.spam_score], ["flagged", w.flagged ? "yes" : "no"], ["excluded", w.excluded ? "yes" : "no"]];
  $("worker-stats").replaceChildren(...stats.map(([k, v]) => { const d = el("div", { "data-stat": k }); d.append(el("span", { class: "muted" }, k + ": "), el("b", {}, fmt(v))); return d; }));
  $("worker-admin").classList.toggle("hidden", !$("admin-token").value);
}
async function admin(action) {
  const token = $("admin-token").value;
  try {
    await api(`/v1/projects/${enc(state.project)}/workers/${enc(state.worker)}/${action}`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    $("admin-result").textContent = `${action}d`;
    await refresh();
  } catch (e) { $("admin-result").textContent = e.message; }
}
async function loadStatus() {
  try {
    const s = await api("/v1/status");
    $("ready-dot").className = "dot " + (s.ready ? "ok" : "bad");
    $("ready-text").textContent = s.ready ? "ready" : "not ready";
    if (state.lastCommitted !== null && s.unix_ms > state.lastTime) {
      $("ingest-rate").textContent = Math.round((s.answers_committed - state.lastCommitted) * 1000 / (s.unix_ms - state.lastTime)).toLocaleString();
    }
    state.lastCommitted = s.answers_committed; state.lastTime = s.unix_ms;
  } catch (e) { $("ready-dot").className = "dot bad"; $("ready-text").textContent = "unreachable"; }
}
async function refresh() {
  const r = route();
  if (r.project) state.project = r.project;
  state.worker = r.worker || null;
  try {
    await loadProjects();
    await Promise.all([loadHeadline(), loadWorkers(), loadReview(), loadWorker()]);
    document.body.dataset.loaded = "true";
  } catch (e) { console.error(e); }
}
$("project-picker").addEventListener("change", (e) => { location.hash = `#/p/${enc(e.target.value)}`; });
document.querySelectorAll("#workers-table th[data-sort]").forEach(th => th.addEventListener("click", () => {
  if (state.sort === th.dataset.sort) state.order = state.order === "asc" ? "desc" : "asc";
  else { state.sort = th.dataset.sort; state.order = th.dataset.sort === "answers" ? "desc" : "asc"; }
  loadWorkers();
}));
$("worker-back").addEventListener("click", (e) => { e.preventDefault(); location.hash = `#/p/${enc(state.project)}`; });
$("exclude-btn").addEventListener("click", () => admin("exclude"));
$("include-btn").addEventListener("click", () => admin("include"));
$("admin-token").addEventListener("input", () => { sessionStorage.setItem("consensusd-token", $("admin-token").value); $("worker-admin").classList.toggle("hidden", !$("admin-token").value || !state.worker); });
$("admin-token").value = sessionStorage.getItem("consensusd-token") || "";
window.addEventListener("hashchange", refresh);
refresh(); loadStatus();
setInterval(loadStatus, 2000);
setInterval(() => { loadHeadline().catch(() => {}); loadReview().catch(() => {}); }, 5000);
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view DashboardHtml() { return kHtml; }

void RegisterDashboard(httplib::Server& server) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kHtml), "text/html; charset=utf-8");
  });
}

}  // namespace consensusd::api
