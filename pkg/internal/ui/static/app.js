// crawlctl web UI: the few things a server-rendered page cannot do by
// itself. Every text from the server goes in with textContent, never as
// HTML: job names and log output are untrusted.
"use strict";

function rel(t) {
  let d = (Date.now() - t.getTime()) / 1000, suffix = "ago";
  if (d < 0) { d = -d; suffix = "from now"; }
  if (d < 5) return "just now";
  if (d < 60) return Math.floor(d) + " s " + suffix;
  if (d < 3600) return Math.floor(d / 60) + " min " + Math.floor(d % 60) + " s " + suffix;
  if (d < 172800) return Math.floor(d / 3600) + " h " + Math.floor(d % 3600 / 60) + " min " + suffix;
  return Math.floor(d / 86400) + " days " + suffix;
}

function refreshTimes() {
  // Relative times only: times shown in a schedule's zone stay absolute.
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    if (el.querySelector(".tz")) return;
    el.textContent = rel(new Date(el.getAttribute("datetime")));
  });
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
  if (r.status === 401) { location.href = "/ui/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("logged out"); }
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

// setStatus moves el (a badge, or a graph node: an SVG element, whose
// className is not a string) to status's colour.
function setStatus(el, status) {
  if (!el) return;
  Array.from(el.classList).forEach(function (c) { if (c.startsWith("status-")) el.classList.remove(c); });
  el.classList.add("status-" + status);
  if (!(el instanceof SVGElement)) el.textContent = status;
}

function setTime(id, iso) {
  const dd = document.getElementById(id);
  if (!dd || !iso) return;
  const t = document.createElement("time");
  t.setAttribute("datetime", iso);
  t.title = new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  t.textContent = rel(new Date(iso));
  dd.replaceChildren(t);
}

// ---- execution page: live graph and jobs, log viewer

function execution(root) {
  const stateURL = root.dataset.stateUrl;
  let ended = root.dataset.ended === "true";
  const nodes = {};
  root.querySelectorAll("svg.dag g.node").forEach(function (g) { nodes[g.dataset.id] = g; });
  const rows = {};
  root.querySelectorAll("#jobs tr[data-job]").forEach(function (tr) { rows[tr.dataset.job] = tr; });

  async function poll() {
    try {
      const s = await getJSON(stateURL);
      setStatus(document.getElementById("exec-status"), s.status);
      document.getElementById("exec-duration").textContent = s.duration;
      setTime("exec-started", s.start_time);
      setTime("exec-ended", s.end_time);
      const err = document.getElementById("exec-error");
      if (s.error) { err.textContent = s.error; err.hidden = false; }
      const wait = document.getElementById("exec-wait");
      wait.textContent = s.wait_reason || ""; wait.hidden = !s.wait_reason;
      for (const id in nodes) {
        const st = s.nodes[id] || "READY";
        setStatus(nodes[id], st);
        const title = nodes[id].querySelector("title");
        if (title) title.textContent = title.textContent.replace(/: [A-Z]+$/, "") + ": " + st;
      }
      for (const name in rows) {
        const j = s.jobs[name], tr = rows[name];
        const st = j ? j.status : (s.nodes[name] || "READY");
        setStatus(tr.querySelector("[data-field=status]"), st);
        if (j) {
          tr.querySelector("[data-field=attempt]").textContent = j.attempt || "";
          tr.querySelector("[data-field=duration]").textContent = j.duration;
          tr.querySelector("[data-field=exit_code]").textContent = j.exit_code;
        }
      }
      if (s.ended) {
        ended = true;
        root.dataset.ended = "true";
        ["kill-form", "pause-form"].forEach(function (id) {
          const f = document.getElementById(id);
          if (f) f.remove();
        });
        return;
      }
    } catch (e) { /* try again on the next tick */ }
    setTimeout(poll, 1000);
  }
  if (!ended) setTimeout(poll, 1000);

  // Clicking a node: an embedded flow opens its level, a job shows its log.
  root.querySelectorAll("svg.dag g.node").forEach(function (g) {
    g.addEventListener("click", function () {
      if (g.classList.contains("kind-flow")) {
        const q = new URLSearchParams(location.search);
        q.set("level", g.dataset.id);
        location.search = q.toString();
        return;
      }
      chooseLog(g.dataset.id);
      document.getElementById("log").scrollIntoView({ behavior: "smooth" });
    });
  });
  root.querySelectorAll("[data-log-job]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); chooseLog(a.dataset.logJob); document.getElementById("log").scrollIntoView({ behavior: "smooth" }); });
  });

  const pre = document.getElementById("log-text");
  const select = document.getElementById("log-job");
  const follow = document.getElementById("log-follow");
  const stateLine = document.getElementById("log-state");
  const maxShown = 4 << 20; // characters kept in the viewer
  let job = select.value, offset = 0, generation = 0, shown = 0, trimmed = false;

  function chooseLog(name) {
    select.value = name;
    if (select.value !== name) return;
    startLog();
  }
  function links() {
    const q = job ? "job=" + encodeURIComponent(job) : "";
    document.getElementById("log-raw").href = pre.dataset.rawUrl + (q ? "?" + q : "");
    document.getElementById("log-download").href = pre.dataset.rawUrl + "?download=1" + (q ? "&" + q : "");
    root.querySelectorAll("svg.dag g.node").forEach(function (g) { g.classList.toggle("selected", g.dataset.id === job); });
    const u = new URL(location.href);
    if (job) u.searchParams.set("job", job); else u.searchParams.delete("job");
    history.replaceState(null, "", u);
  }
  function startLog() {
    job = select.value; offset = 0; shown = 0; trimmed = false; generation++;
    pre.textContent = "";
    links();
    readLog(generation);
  }
  async function readLog(gen) {
    if (gen !== generation) return;
    let more = false, done = false;
    try {
      const url = pre.dataset.logUrl + "?offset=" + offset + (job ? "&job=" + encodeURIComponent(job) : "");
      const c = await getJSON(url);
      if (gen !== generation) return;
      if (c.data) {
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.appendChild(document.createTextNode(c.data));
        shown += c.data.length;
        if (shown > maxShown) {
          // Keep the page light on a huge log: the newest part stays, Raw
          // and Download have all of it.
          const text = pre.textContent;
          pre.textContent = text.slice(text.length - maxShown / 2);
          shown = maxShown / 2;
          trimmed = true;
        }
        if (follow.checked || atEnd) pre.scrollTop = pre.scrollHeight;
        more = c.next_offset > offset;
      }
      offset = c.next_offset;
      done = c.ended && !c.data;
      stateLine.textContent = (done ? "End of log (" + offset + " bytes)." : (more ? "Reading…" : "Following: waiting for more output…")) +
        (trimmed ? " Showing its last part only: Raw and Download have all of it." : "");
    } catch (e) {
      stateLine.textContent = "Cannot read the log (" + e.message + "); retrying…";
    }
    if (!done) setTimeout(function () { readLog(gen); }, more ? 0 : 1000);
  }
  select.addEventListener("change", startLog);
  document.getElementById("log-end").addEventListener("click", function () { follow.checked = true; pre.scrollTop = pre.scrollHeight; });
  pre.addEventListener("scroll", function () {
    if (pre.scrollTop + pre.clientHeight < pre.scrollHeight - 4) follow.checked = false;
  });
  startLog();
}

// ---- flow page: embedded flows open their level

function flowGraph(wrap) {
  wrap.querySelectorAll("g.node.kind-flow").forEach(function (g) {
    g.addEventListener("click", function () {
      const q = new URLSearchParams(location.search);
      q.set("level", g.dataset.id);
      location.search = q.toString();
    });
  });
}

// ---- executor page: deactivate and wait for the drain

function drain(el) {
  const count = document.getElementById("drain-count");
  async function poll() {
    try {
      const s = await getJSON(el.dataset.stateUrl);
      count.textContent = s.running_flows;
      document.getElementById("running-flows").textContent = s.running_flows;
      if (s.running_flows === 0) {
        el.textContent = "Drained: no flow runs here any more; it is safe to stop.";
        el.classList.add("done");
        return;
      }
    } catch (e) { /* next tick */ }
    setTimeout(poll, 1000);
  }
  poll();
}

// ---- lists that keep themselves fresh: the executors, and the first page
// of executions while one of them has not ended. The same page is fetched
// again (the server escaped it) and its table body swapped in.

const finalStatuses = ["SUCCEEDED", "FAILED", "KILLED"];

function liveTable(table) {
  async function tick() {
    if (table.id === "executions") {
      const open = Array.from(table.querySelectorAll("tbody .status")).some(function (b) { return !finalStatuses.includes(b.textContent.trim()); });
      if (!open) { setTimeout(tick, 5000); return; }
    }
    try {
      const r = await fetch(location.href, { credentials: "same-origin" });
      if (r.ok && !r.redirected) {
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        const fresh = doc.getElementById(table.id);
        if (fresh) table.tBodies[0].replaceWith(document.adoptNode(fresh.tBodies[0]));
      }
    } catch (e) { /* next tick */ }
    setTimeout(tick, 5000);
  }
  setTimeout(tick, 5000);
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table[data-refresh], [data-refresh-wrap] table").forEach(liveTable);
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) { if (!confirm(f.dataset.confirm)) ev.preventDefault(); });
  });
  document.querySelectorAll("a[data-back]").forEach(function (a) {
    a.addEventListener("click", function (ev) { if (history.length > 1) { ev.preventDefault(); history.back(); } });
  });
  const ex = document.getElementById("execution");
  if (ex) execution(ex);
  else {
    const dag = document.getElementById("dag");
    if (dag) flowGraph(dag);
  }
  const d = document.getElementById("drain");
  if (d) drain(d);
  setInterval(refreshTimes, 15000);
});
