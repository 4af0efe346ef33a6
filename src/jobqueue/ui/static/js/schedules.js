// Schedules: each with its expression in words, its next runs and its last runs with their
// jobs' outcomes, and pause, resume and run-now for admins.
"use strict";

(function () {
  const { el, fmtTime, problemOf, show, button, canAdmin, jobLink } = window.JQ;

  function command(schedule, name, label) {
    const path = `/schedules/${encodeURIComponent(schedule.name)}/${name}`;
    return button(label, () => window.JQ.run(`${label} ${schedule.name}`, "POST", path));
  }

  function when(schedule) {
    const words = schedule.description ? `${schedule.description} ` : "";
    return el("td", {}, words, el("code", {}, schedule.cron), ` (${schedule.tz})`);
  }

  function nextRuns(schedule) {
    if (!schedule.next_runs.length) return el("td", {}, "—");
    return el("td", {}, el("ul", { class: "runs" }, schedule.next_runs.slice(0, 3).map((at) => el("li", {}, fmtTime(at)))));
  }

  function lastRun(run) {
    const outcome = run.job_state ? `${run.outcome}, ${run.job_state}` : run.outcome;
    return el("li", { class: `run-${run.outcome}` }, fmtTime(run.tick_at), " ", run.job_id ? jobLink(run.job_id) : null, ` ${outcome}`);
  }

  function lastRuns(schedule) {
    const runs = schedule.last_runs || [];
    if (!runs.length) return el("td", {}, "—");
    return el("td", {}, el("ul", { class: "runs" }, runs.map(lastRun)));
  }

  function commands(schedule) {
    const toggle = schedule.paused ? command(schedule, "resume", "Resume") : command(schedule, "pause", "Pause");
    return el("td", {}, el("div", { class: "buttons" }, toggle, command(schedule, "run-now", "Run now")));
  }

  function row(schedule) {
    return el(
      "tr",
      { "data-schedule": schedule.name },
      el("td", { class: "mono" }, schedule.name, schedule.source === "code" ? " (code)" : ""),
      when(schedule),
      el("td", { class: "type" }, schedule.job_type),
      el("td", {}, el("span", { class: "state" }, schedule.paused ? "paused" : "active")),
      nextRuns(schedule),
      lastRuns(schedule),
      canAdmin ? commands(schedule) : null,
    );
  }

  function render(sections) {
    const section = sections.schedules;
    if (!section) return;
    const problem = document.getElementById("schedules-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "The schedules (GET /schedules)"));
      return;
    }
    show(problem, "");
    window.JQ.syncRows(document.querySelector("#schedules tbody"), section.body.schedules, (s) => s.name, row, () =>
      el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No schedule.")),
    );
  }

  window.JQ.stream("schedules", {}, render);
})();
