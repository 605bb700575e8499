#include "master/web_ui.hpp"

namespace caldera {

namespace {

// Everything inline: the page works without network access beyond the
// master (and agents, for sandbox files).
const char* page = R"CALDERA_UI(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>caldera</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { margin: 0 0 .2em 0; font-size: 1.5em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em 0; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .7em; text-align: left; }
th { background: #f4f4f4; }
.totals span { display: inline-block; margin-right: 2em; }
.totals b { font-size: 1.3em; }
#meta { color: #666; font-size: .85em; }
tr.task:hover { background: #eef; cursor: pointer; }
pre#logs { background: #111; color: #ddd; padding: .8em; max-height: 20em; overflow: auto; }
.err { color: #b00; }
</style>
</head>
<body>
<h1>caldera</h1>
<div id="meta">loading…</div>
<div class="totals" id="totals"></div>
<h2>CPU share of each framework (last minutes)</h2>
<svg id="chart" width="720" height="200"></svg>
<div id="legend"></div>
<h2>Agents</h2>
<table id="agents"><thead><tr><th>id</th><th>hostname</th><th>state</th><th>cpus used / total</th><th>mem used / total (MiB)</th><th>HTTP</th></tr></thead><tbody></tbody></table>
<h2>Frameworks</h2>
<table id="frameworks"><thead><tr><th>name</th><th>id</th><th>roles</th><th>active</th><th>cpus</th><th>mem</th><th>dominant share</th><th>running</th></tr></thead><tbody></tbody></table>
<h2>Tasks</h2>
<div>state <select id="fstate"><option value="">all</option></select>
 framework <select id="ffw"><option value="">all</option></select></div>
<table id="tasks"><thead><tr><th>id</th><th>name</th><th>framework</th><th>agent</th><th>state</th><th>cpus</th><th>mem</th></tr></thead><tbody></tbody></table>
<h2 id="logtitle">Task output</h2>
<div><button id="bstdout">stdout</button> <button id="bstderr">stderr</button> <span id="logsrc"></span></div>
<pre id="logs">click a task to see its output</pre>
<script>
"use strict";
const history = {};      // framework name -> [[t, share], ...]
const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
let summary = null, tasks = [], selected = null, stream = "stdout";
const el = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
const num = x => (x === undefined ? 0 : Math.round(x * 100) / 100);
function total(kind) {
  let t = 0, u = 0;
  for (const a of summary.slaves) if (a.active) { t += a.resources[kind] || 0; u += a.used_resources[kind] || 0; }
  return [u, t];
}
function render() {
  const [cu, ct] = total("cpus"), [mu, mt] = total("mem");
  let running = 0;
  for (const f of summary.frameworks) running += f.TASK_RUNNING || 0;
  el("meta").textContent = "master " + summary.id + " on " + summary.hostname + " — refreshed " + new Date().toLocaleTimeString();
  el("totals").innerHTML = "<span>agents <b>" + summary.slaves.filter(a => a.active).length + "/" + summary.slaves.length +
    "</b></span><span>cpus <b>" + num(cu) + "/" + num(ct) + "</b></span><span>mem <b>" + num(mu) + "/" + num(mt) +
    "</b> MiB</span><span>frameworks <b>" + summary.frameworks.length + "</b></span><span>running tasks <b>" + running + "</b></span>";
  el("agents").tBodies[0].innerHTML = summary.slaves.map(a => "<tr class='agent'><td>" + esc(a.id) + "</td><td>" + esc(a.hostname) +
    "</td><td>" + (a.unreachable ? "unreachable" : a.active ? "active" : "disconnected") + "</td><td>" + num(a.used_resources.cpus) + " / " +
    num(a.resources.cpus) + "</td><td>" + num(a.used_resources.mem) + " / " + num(a.resources.mem) + "</td><td>" + esc(a.http_endpoint || "") + "</td></tr>").join("");
  const now = Date.now() / 1000;
  el("frameworks").tBodies[0].innerHTML = summary.frameworks.map(f => {
    const c = (f.used_resources.cpus || 0) + (f.offered_resources.cpus || 0);
    const m = (f.used_resources.mem || 0) + (f.offered_resources.mem || 0);
    const share = Math.max(ct ? c / ct : 0, mt ? m / mt : 0);
    const key = f.name + " (" + f.id + ")";
    (history[key] = history[key] || []).push([now, ct ? c / ct : 0]);
    return "<tr class='framework'><td>" + esc(f.name) + "</td><td>" + esc(f.id) + "</td><td>" + esc((f.roles || []).join(",")) +
      "</td><td>" + f.active + "</td><td>" + num(f.used_resources.cpus) + "</td><td>" + num(f.used_resources.mem) +
      "</td><td>" + Math.round(share * 100) + "%</td><td>" + (f.TASK_RUNNING || 0) + "</td></tr>";
  }).join("");
  for (const k in history) while (history[k].length && history[k][0][0] < now - 300) history[k].shift();
  drawChart(now);
  renderTasks();
}
function drawChart(now) {
  const svg = el("chart"), w = 720, h = 200, l = 40, b = 20, top = 12;
  const y = s => (top + (h - b - top) * (1 - s)).toFixed(1);
  let out = "<line x1='" + l + "' y1='" + (h - b) + "' x2='" + w + "' y2='" + (h - b) + "' stroke='#999'/>";
  for (const p of [0, 0.5, 1]) out += "<text x='0' y='" + (Number(y(p)) + 4) + "' font-size='10'>" + p * 100 + "%</text>";
  let i = 0, legend = "";
  for (const k in history) {
    const col = colors[i++ % colors.length];
    const pts = history[k].map(([t, s]) => (l + (w - l) * (1 - (now - t) / 300)).toFixed(1) + "," + y(s)).join(" ");
    out += "<polyline class='series' fill='none' stroke-width='2' stroke='" + col + "' points='" + pts + "'/>";
    legend += "<span style='color:" + col + ";margin-right:1.5em'>&#9632; " + esc(k) + "</span>";
  }
  svg.innerHTML = out;
  el("legend").innerHTML = legend;
}
function renderTasks() {
  const fs = el("fstate").value, ff = el("ffw").value;
  const states = new Set(tasks.map(t => t.state)), fws = new Set(tasks.map(t => t.framework_id));
  const fill = (sel, vals) => {
    const cur = sel.value;
    sel.innerHTML = "<option value=''>all</option>" + [...vals].sort().map(v => "<option" + (v === cur ? " selected" : "") + ">" + esc(v) + "</option>").join("");
  };
  fill(el("fstate"), states); fill(el("ffw"), fws);
  el("tasks").tBodies[0].innerHTML = tasks.filter(t => (!fs || t.state === fs) && (!ff || t.framework_id === ff)).map(t =>
    "<tr class='task' data-id='" + esc(t.id) + "'><td>" + esc(t.id) + "</td><td>" + esc(t.name) + "</td><td>" + esc(t.framework_id) +
    "</td><td>" + esc(t.slave_id) + "</td><td>" + esc(t.state) + "</td><td>" + num(t.resources.cpus) + "</td><td>" + num(t.resources.mem) + "</td></tr>").join("");
  for (const row of el("tasks").tBodies[0].rows) row.onclick = () => { selected = row.dataset.id; showLogs(); };
}
async function showLogs() {
  const t = tasks.find(x => x.id === selected);
  if (!t) return;
  const agent = summary.slaves.find(a => a.id === t.slave_id);
  el("logtitle").textContent = "Task output: " + t.id + " (" + stream + ")";
  if (!agent || !agent.http_endpoint) { el("logs").textContent = "the agent of this task has no HTTP endpoint"; return; }
  try {
    const base = "http://" + agent.http_endpoint;
    const st = await (await fetch(base + "/state")).json();
    let dir = null;
    for (const f of st.frameworks.concat(st.completed_frameworks || []))
      for (const e of f.executors.concat(f.completed_executors || []))
        for (const tk of e.tasks.concat(e.completed_tasks || [])) if (tk.id === t.id) dir = e.directory;
    if (!dir) { el("logs").textContent = "no sandbox found for this task on " + agent.hostname; return; }
    const path = dir + "/" + stream;
    el("logsrc").textContent = base + "/files/read?path=" + path;
    const r = await (await fetch(base + "/files/read?path=" + encodeURIComponent(path) + "&offset=0&length=65536")).json();
    el("logs").textContent = r.data === undefined ? (r.error || "") : r.data;
  } catch (e) { el("logs").textContent = "cannot read the sandbox: " + e; }
}
el("bstdout").onclick = () => { stream = "stdout"; showLogs(); };
el("bstderr").onclick = () => { stream = "stderr"; showLogs(); };
el("fstate").onchange = renderTasks; el("ffw").onchange = renderTasks;
async function poll() {
  try {
    summary = await (await fetch("/master/state-summary")).json();
    tasks = (await (await fetch("/master/tasks?limit=500&order=desc")).json()).tasks;
    render();
  } catch (e) { el("meta").innerHTML = "<span class='err'>cannot reach the master: " + esc(e) + "</span>"; }
}
poll();
setInterval(poll, 2000);
</script>
</body>
</html>
)CALDERA_UI";

} // namespace

const std::string& web_ui_html() {
  static const std::string html{page};
  return html;
}

} // namespace caldera
