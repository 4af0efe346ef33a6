// The overview: jobs per second and queue depth (uPlot), wait and run times, counts by state.
"use strict";

(function () {
  const { el, fmtNumber, fmtSeconds, problemOf, show } = window.JQ;
  const THROUGHPUT = [
    ["submitted", "#3b82f6"],
    ["succeeded", "#16a34a"],
    ["failed", "#f59e0b"],
    ["dead", "#dc2626"],
  ];
  const DEPTH = [
    ["ready", "#3b82f6"],
    ["in_flight", "#8b5cf6"],
    ["scheduled", "#14b8a6"],
    ["dead", "#dc2626"],
  ];
  const charts = {};

  // uPlot wants one x array and one y array per series, aligned: points are joined on time.
  function aligned(groups, names) {
    const times = new Set();
    for (const name of names) for (const point of groups[name] || []) times.add(point[0]);
    const xs = [...times].sort((a, b) => a - b);
    const columns = names.map((name) => {
      const byTime = new Map((groups[name] || []).map((point) => [point[0], point[1]]));
      return xs.map((t) => (byTime.has(t) ? byTime.get(t) : null));
    });
    return [xs, ...columns];
  }

  function chartWidth(node) {
    return Math.max(260, node.clientWidth - 8);
  }

  // Canvas knows no currentColor: the axes take the page's colours as computed.
  function axis() {
    const style = getComputedStyle(document.body);
    const grid = { stroke: style.getPropertyValue("--line").trim() || "#8884", width: 1 };
    return { stroke: style.color, grid, ticks: grid };
  }

  function draw(id, groups, spec) {
    const node = document.getElementById(id);
    const names = spec.map((entry) => entry[0]);
    const data = aligned(groups || {}, names);
    if (typeof window.uPlot !== "function") {
      node.textContent = "The chart library did not load.";
      return;
    }
    if (charts[id]) {
      charts[id].setData(data);
      return;
    }
    const options = {
      width: chartWidth(node),
      height: 220,
      series: [{}, ...spec.map(([name, stroke]) => ({ label: name.replace("_", " "), stroke, width: 2, points: { size: 4 } }))],
      axes: [axis(), axis()],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    };
    charts[id] = new window.uPlot(options, data, node);
  }

  function figure(label, value) {
    return el("div", { class: "figure" }, el("dt", {}, label), el("dd", {}, value));
  }

  function drawFigures(stats) {
    const wait = stats.wait_seconds || {};
    const run = stats.run_seconds || {};
    const workers = stats.workers || {};
    const totals = stats.totals || {};
    const items = [
      figure("Wait p50 / p95", `${fmtSeconds(wait.p50)} / ${fmtSeconds(wait.p95)}`),
      figure("Run p50 / p95", `${fmtSeconds(run.p50)} / ${fmtSeconds(run.p95)}`),
      figure("Workers active · paused · draining", `${fmtNumber(workers.active)} · ${fmtNumber(workers.paused)} · ${fmtNumber(workers.draining)}`),
      figure("In flight / capacity", `${fmtNumber(workers.in_flight)} / ${fmtNumber(workers.concurrency)}`),
    ];
    for (const [outcome, count] of Object.entries(totals)) {
      items.push(figure(`Total ${outcome}`, fmtNumber(count)));
    }
    document.getElementById("figures").replaceChildren(...items);
  }

  function drawStates(states) {
    const rows = Object.entries(states || {}).map(([state, count]) =>
      el("tr", { "data-state": state }, el("th", { scope: "row" }, state), el("td", { class: "num" }, fmtNumber(count))),
    );
    document.querySelector("#states tbody").replaceChildren(...rows);
  }

  function render(sections) {
    const section = sections.stats;
    if (!section) return;
    const problem = document.getElementById("stats-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "Statistics (GET /stats/overview)"));
      return;
    }
    show(problem, "");
    const stats = section.body;
    drawFigures(stats);
    drawStates(stats.states);
    draw("chart-throughput", stats.throughput, THROUGHPUT);
    draw("chart-depth", stats.depth, DEPTH);
  }

  window.addEventListener("resize", () => {
    for (const [id, chart] of Object.entries(charts)) {
      chart.setSize({ width: chartWidth(document.getElementById(id)), height: 220 });
    }
  });

  window.JQ.stream("overview", window.JQ.pageParams(["window"]), render);
})();
