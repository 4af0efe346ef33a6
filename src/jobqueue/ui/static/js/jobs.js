// The jobs list: filtered by the page's query, a page at a time, with bulk actions for admins.
"use strict";

(function () {
  const { el, fmtTime, jobLink, problemOf, show, canAdmin } = window.JQ;
  const FILTERS = ["state", "type", "since", "until", "id"];
  const params = window.JQ.pageParams([...FILTERS, "cursor"]);
  const selected = new Set();
  let shown = [];

  function checkbox(job) {
    const box = el("input", {
      type: "checkbox",
      class: "pick",
      "aria-label": `Select job ${job.id}`,
      checked: selected.has(job.id),
    });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(job.id);
      else selected.delete(job.id);
      counted();
    });
    return el("td", {}, box);
  }

  // A scheduled job's due time, a waiting job's reason (the limit it is over), under its state.
  function why(job) {
    if (job.state === "scheduled" && job.run_at) return el("div", { class: "help" }, `due ${fmtTime(job.run_at)}`);
    if (job.state === "waiting" && job.waiting_reason) return el("div", { class: "help" }, job.waiting_reason);
    return null;
  }

  function row(job) {
    return el(
      "tr",
      { "data-job-id": job.id },
      canAdmin ? checkbox(job) : null,
      el("td", {}, jobLink(job.id)),
      el("td", { class: "type" }, job.type),
      el("td", {}, el("span", { class: `state state-${job.state}` }, job.state), why(job)),
      el("td", { class: "num" }, `${job.attempts}${job.max_attempts ? " / " + job.max_attempts : ""}`),
      el("td", {}, fmtTime(job.created_at)),
      el("td", { class: "mono" }, job.worker_id || "—"),
    );
  }

  function counted() {
    const count = document.getElementById("selected-count");
    if (!count) return;
    count.textContent = String(selected.size);
    document.getElementById("bulk-selected").disabled = selected.size === 0;
  }

  function pager(nextCursor) {
    const here = new URLSearchParams(window.location.search);
    const next = document.getElementById("next-page");
    const first = document.getElementById("first-page");
    if (nextCursor) {
      here.set("cursor", nextCursor);
      next.setAttribute("href", `/ui/jobs?${here.toString()}`);
    }
    next.hidden = !nextCursor;
    here.delete("cursor");
    first.setAttribute("href", `/ui/jobs?${here.toString()}`);
    first.hidden = !params.cursor;
  }

  function render(sections) {
    const section = sections.jobs;
    if (!section) return;
    const problem = document.getElementById("jobs-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "The job list (GET /jobs)"));
      return;
    }
    show(problem, "");
    shown = section.body.jobs;
    window.JQ.syncRows(document.querySelector("#jobs tbody"), shown, (job) => job.id, row, () =>
      el("tr", {}, el("td", { colspan: canAdmin ? 7 : 6, class: "empty" }, "No jobs match.")),
    );
    pager(section.body.next_cursor);
  }

  function filter() {
    const taken = {};
    for (const name of FILTERS) if (params[name]) taken[name] = params[name];
    return taken;
  }

  async function bulk(body, what) {
    const action = body.action;
    let count = body.ids ? body.ids.length : null;
    if (count === null) {
      const dry = await window.JQ.act("POST", "/jobs/bulk", { ...body, dry_run: true });
      if (!dry.ok) {
        window.JQ.flash(`Bulk ${action}: ${dry.status === 404 || dry.status === 405 ? "this API does not offer bulk actions" : dry.message}`, "error");
        return;
      }
      count = dry.body.matched;
      if (dry.body.truncated) what += " (only the first ones: the match was cut short)";
    }
    const ok = await window.JQ.confirmAction(`${action} ${count} job(s): ${what}?`, `${action} ${count}`);
    if (!ok) return;
    const answer = await window.JQ.act("POST", "/jobs/bulk", body);
    if (answer.ok) {
      const done = answer.body || {};
      window.JQ.flash(`Bulk ${action}: ${done.done} done, ${done.skipped} skipped of ${done.matched} matched`, "ok");
      selected.clear();
      counted();
    } else {
      window.JQ.flash(`Bulk ${action} failed: ${answer.status} ${answer.message}`, "error");
    }
  }

  function wireBulk() {
    const picker = document.getElementById("bulk-action");
    if (!picker) return;
    document.getElementById("bulk-selected").addEventListener("click", () =>
      bulk({ action: picker.value, ids: [...selected] }, "the selected jobs"),
    );
    document.getElementById("bulk-matching").addEventListener("click", () =>
      bulk({ action: picker.value, filter: filter() }, "every job matching the filter"),
    );
    document.getElementById("select-all").addEventListener("change", (event) => {
      for (const job of shown) {
        if (event.target.checked) selected.add(job.id);
        else selected.delete(job.id);
      }
      for (const box of document.querySelectorAll("#jobs tbody input.pick")) box.checked = event.target.checked;
      counted();
    });
  }

  wireBulk();
  window.JQ.stream("jobs", params, render);
})();
