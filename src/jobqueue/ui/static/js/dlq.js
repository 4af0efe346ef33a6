// Dead letters: grouped by failure fingerprint, replayed (one, a group, all; optionally paced) or
// purged after a confirmation.
"use strict";

(function () {
  const { el, fmtTime, fmtNumber, jobLink, problemOf, show, button, canAdmin } = window.JQ;

  // "?per_second=N" when a pace is set, else nothing (replay at once).
  function pace() {
    const input = document.getElementById("pace");
    const value = input ? Number(input.value) : 0;
    return value > 0 ? `?per_second=${encodeURIComponent(value)}` : "";
  }

  function paceWords() {
    const input = document.getElementById("pace");
    return input && Number(input.value) > 0 ? ` at ${Number(input.value)} per second` : "";
  }

  async function replayGroup(group) {
    const ok = await window.JQ.confirmAction(`Replay ${group.count} dead job(s) of ${group.job_type || "?"} failing with ${group.error_type || "?"}${paceWords()}?`, "Replay");
    if (ok) await window.JQ.run("Replay group", "POST", `/dlq/groups/${encodeURIComponent(group.fingerprint)}/replay${pace()}`);
  }

  async function purgeGroup(group) {
    const ok = await window.JQ.confirmAction(`Purge ${group.count} dead job(s) of ${group.job_type || "?"} for good?`, "Purge");
    if (ok) await window.JQ.run("Purge group", "DELETE", `/dlq/groups/${encodeURIComponent(group.fingerprint)}`);
  }

  function groupCard(group) {
    const actions = canAdmin
      ? el("div", { class: "buttons" }, button("Replay group", () => replayGroup(group)), button("Purge group", () => purgeGroup(group), "small danger"))
      : null;
    const sample = group.sample_traceback || group.sample_error || "";
    return el(
      "article",
      { class: "group card", "data-fingerprint": group.fingerprint },
      el("h3", {}, el("span", { class: "type" }, group.job_type || "(not a job)"), " · ", el("span", { class: "mono" }, group.error_type || "error")),
      el("p", { class: "message" }, group.message || ""),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, "Dead jobs"),
        el("dd", { class: "count" }, fmtNumber(group.count)),
        el("dt", {}, "First seen"),
        el("dd", {}, fmtTime(group.first_seen_unix)),
        el("dt", {}, "Last seen"),
        el("dd", {}, fmtTime(group.last_seen_unix)),
        el("dt", {}, "Sample"),
        el("dd", {}, group.sample_job_id ? jobLink(group.sample_job_id) : "—"),
      ),
      sample ? el("details", {}, el("summary", {}, "Sample traceback"), el("pre", { class: "traceback", tabindex: "0" }, sample)) : null,
      actions,
    );
  }

  function drawGroups(section) {
    const notice = document.getElementById("groups-problem");
    const holder = document.getElementById("groups");
    if (section.status !== 200) {
      show(notice, `${problemOf(section, "Grouping by failure (GET /dlq/groups)")}. The dead jobs are listed one by one below.`);
      holder.replaceChildren();
      holder._rows = null;
      return;
    }
    show(notice, "");
    window.JQ.syncRows(holder, section.body.groups || [], (group) => group.fingerprint, groupCard, () =>
      el("p", { class: "empty" }, "The dead-letter queue is empty."),
    );
  }

  function deadRow(dead) {
    return el(
      "tr",
      { "data-job-id": dead.id },
      el("td", {}, jobLink(dead.id)),
      el("td", { class: "type" }, dead.type || "(not a job)"),
      el("td", {}, dead.reason),
      el("td", { class: "error" }, dead.error || ""),
      el("td", {}, fmtTime(dead.failed_at)),
      canAdmin ? el("td", {}, button("Replay", () => window.JQ.run("Replay", "POST", `/dlq/${encodeURIComponent(dead.id)}/replay`))) : null,
    );
  }

  function drawDead(section) {
    const problem = document.getElementById("dead-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "The dead-letter queue (GET /dlq)"));
      return;
    }
    show(problem, "");
    window.JQ.syncRows(document.querySelector("#dead tbody"), section.body.dead_jobs, (dead) => dead.id, deadRow, () =>
      el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No dead jobs.")),
    );
  }

  function render(sections) {
    if (sections.groups) drawGroups(sections.groups);
    if (sections.dead) drawDead(sections.dead);
  }

  function wire() {
    const all = document.getElementById("replay-all");
    if (!all) return;
    all.addEventListener("click", async () => {
      if (await window.JQ.confirmAction(`Replay every dead job${paceWords()}?`, "Replay all")) {
        await window.JQ.run("Replay all", "POST", `/dlq/replay${pace()}`);
      }
    });
    document.getElementById("purge-all").addEventListener("click", async () => {
      if (await window.JQ.confirmAction("Purge every dead job for good? This cannot be undone.", "Purge all")) {
        await window.JQ.run("Purge all", "DELETE", "/dlq");
      }
    });
  }

  wire();
  window.JQ.stream("dlq", window.JQ.pageParams(["scan"]), render);
})();
