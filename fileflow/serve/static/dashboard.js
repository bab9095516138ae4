// The live parts of the dashboard, over its JSON API. Text from the run log is only ever
// set as textContent, never as HTML.
(function () {
  "use strict";
  var body = document.body;

  function elapsed(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 60) return seconds.toFixed(1) + " s";
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m < 60) return m + "m" + (s < 10 ? "0" : "") + s + "s";
    var h = Math.floor(m / 60); m = m % 60;
    return h + "h" + (m < 10 ? "0" : "") + m + "m";
  }

  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function showRun(state) {
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var n = state.counts[el.getAttribute("data-count")] || 0;
      el.textContent = n.toLocaleString("en-US");
    });
    var status = document.getElementById("run-status");
    if (status) {
      status.textContent = state.status;
      status.className = "state-" + state.status;
    }
    body.setAttribute("data-status", state.status);
    showRules(state.rules || {});
    var rows = document.getElementById("running-jobs");
    if (!rows) return;
    while (rows.firstChild) rows.removeChild(rows.firstChild);
    skew = state.now - Date.now() / 1000;
    state.running.forEach(function (job) {
      var tr = document.createElement("tr");
      cell(tr, job.name, "/jobs/" + encodeURIComponent(job.id));
      cell(tr, elapsed(state.now - job.started_at));
      tr.lastChild.setAttribute("data-started", String(job.started_at));
      rows.appendChild(tr);
    });
  }

  // The running jobs' elapsed times go on between two events (the server's clock).
  var skew = 0;
  function tick() {
    var now = Date.now() / 1000 + skew;
    document.querySelectorAll("#running-jobs [data-started]").forEach(function (td) {
      td.textContent = elapsed(now - Number(td.getAttribute("data-started")));
    });
  }

  function showRules(rules) {
    var box = document.getElementById("rule-graph-box");
    if (!box) return;
    var colours = JSON.parse(box.getAttribute("data-colours"));
    box.querySelectorAll("g.rule").forEach(function (g) {
      var state = rules[g.getAttribute("data-rule")] || "";
      var colour = colours[state] || ["#ffffff", "#90a4ae"];
      var rect = g.querySelector("rect");
      rect.setAttribute("fill", colour[0]);
      rect.setAttribute("stroke", colour[1]);
      g.setAttribute("data-state", state);
    });
  }

  function followRun(run) {
    if (!window.EventSource) return;
    var source = new EventSource("/api/runs/" + encodeURIComponent(run) + "/events");
    source.onmessage = function (event) {
      showRun(JSON.parse(event.data));
      body.setAttribute("data-updates", String(Number(body.getAttribute("data-updates") || 0) + 1));
    };
    source.addEventListener("end", function () {
      source.close();
      body.setAttribute("data-live", "ended");
    });
  }

  function followLog(job) {
    var pre = document.getElementById("job-log"), box = document.getElementById("follow");
    if (!pre || !box) return;
    function step() {
      if (!box.checked) { setTimeout(step, 1000); return; }
      var url = "/api/jobs/" + encodeURIComponent(job) + "/log?offset=" +
        encodeURIComponent(pre.getAttribute("data-offset") || "0");
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (chunk) {
          if (chunk.text) pre.appendChild(document.createTextNode(chunk.text));
          if (chunk.next_offset !== undefined) pre.setAttribute("data-offset", String(chunk.next_offset));
          if (chunk.state === "running" || chunk.text) setTimeout(step, 1000);
        }).catch(function () { setTimeout(step, 3000); });
    }
    setTimeout(step, 1000);
  }

  var run = body.getAttribute("data-run");
  if (run && body.getAttribute("data-status") === "running") {
    followRun(run);
    setInterval(tick, 1000);
  }
  var job = body.getAttribute("data-job");
  if (job) followLog(job);
  body.setAttribute("data-ready", "1");
})();
