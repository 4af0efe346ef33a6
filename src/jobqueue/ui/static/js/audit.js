// The audit log: who did which admin action, when, newest first.
"use strict";

(function () {
  const { el, fmtTime, fmtNumber, problemOf, show } = window.JQ;
  const params = window.JQ.pageParams(["cursor"]);

  function row(entry) {
    return el(
      "tr",
      {},
      el("td", {}, fmtTime(entry.at)),
      el("td", {}, entry.actor),
      el("td", { class: "mono" }, entry.action),
      el("td", { class: "mono" }, entry.target),
      el("td", { class: "num" }, entry.count === null ? "—" : fmtNumber(entry.count)),
      el("td", { class: "mono" }, entry.client),
      el("td", { class: "num" }, entry.status),
    );
  }

  function render(sections) {
    const section = sections.audit;
    if (!section) return;
    const problem = document.getElementById("audit-problem");
    if (section.status !== 200) {
      show(problem, problemOf(section, "The audit log (GET /audit)"));
      return;
    }
    show(problem, "");
    window.JQ.syncRows(document.querySelector("#audit tbody"), section.body.entries, (entry) => entry.id, row, () =>
      el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No admin action yet.")),
    );
    const next = document.getElementById("next-page");
    next.hidden = !section.body.next_cursor;
    if (section.body.next_cursor) next.setAttribute("href", `/ui/audit?cursor=${encodeURIComponent(section.body.next_cursor)}`);
    document.getElementById("first-page").hidden = !params.cursor;
  }

  window.JQ.stream("audit", params, render);
})();
