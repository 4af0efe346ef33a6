// Workers: what each reported (workers of the original implementation report less), with
// pause, resume and drain for admins.
"use strict";

(function () {
  const { el, fmtNumber, fmtSeconds, problemOf, show, button, canAdmin } = window.JQ;

  function command(worker, name) {
    const label = name[0].toUpperCase() + name.slice(1);
    return button(label, () => window.JQ.run(`${label} ${worker.worker_id}`, "POST", `/workers/${encodeURIComponent(worker.worker_id)}/${name}`));
  }

  function orDash(value) {
    return value === null || value === undefined || value === "" || value === 0 ? "—" : value;
  }

  function row(worker) {
    const state = worker.pending_command ? `${worker.state || "active"} (${worker.pending_command} asked)` : worker.state || "active";
    const types = worker.job_types && worker.job_types.length ? worker.job_types.join(", ") : "—";
    return el(
      "tr",
      { "data-worker-id": worker.worker_id },
      el("td", { class: "mono" }, worker.worker_id),
      el("td", { class: "host" }, orDash(worker.host)),
      el("td", { class: "num" }, orDash(worker.pid)),
      el("td", {}, orDash(worker.version)),
      el("td", { class: "type" }, types),
      el("td", { class: "num" }, `${fmtNumber(worker.load)} / ${worker.concurrency ? fmtNumber(worker.concurrency) : "—"}`),
      el("td", {}, `${fmtSeconds(worker.seen_ago_s)} ago`),
      el("td", {}, el("span", { class: `state worker-${worker.state || "active"}` }, state)),
      el("td", { class: "num" }, fmtNumber(worker.processed)),
      el("td", { class: "num" }, fmtNumber(worker.failed)),
      canAdmin ? el("td", {}, el("div", { class: "buttons" }, command(worker, "pause"), command(worker, "resume"), command(worker, "drain"))) : null,
    );
  }

  function render(sections) {
    const section = sections.workers;
    if (!section) return;
    const problem = document.getElementById("workers-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "The worker list (GET /workers)"));
      return;
    }
    show(problem, "");
    window.JQ.syncRows(document.querySelector("#workers tbody"), section.body.workers, (worker) => worker.worker_id, row, () =>
      el("tr", {}, el("td", { colspan: 11, class: "empty" }, "No live worker.")),
    );
  }

  window.JQ.stream("workers", {}, render);
})();
