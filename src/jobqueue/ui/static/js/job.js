// One job: its facts, payload, result or error with traceback, progress, and event timeline.
"use strict";

(function () {
  const { el, fmtTime, problemOf, show } = window.JQ;
  const root = document.getElementById("job-root");
  const jobId = root.dataset.jobId;
  const path = encodeURIComponent(jobId);
  const CANCELLABLE = new Set(["scheduled", "queued", "retrying", "waiting", "running"]);
  let latestTraceback = null;

  function pretty(value) {
    if (value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function fact(label, value) {
    return [el("dt", {}, label), el("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
  }

  function drawJob(job) {
    const facts = [
      fact("Id", el("span", { class: "mono" }, job.id)),
      fact("Type", job.type),
      fact("State", el("span", { class: `state state-${job.state}`, id: "job-state" }, job.state)),
      fact("Attempts", `${job.attempts}${job.max_attempts ? " of " + job.max_attempts : ""}`),
      fact("Created", fmtTime(job.created_at)),
      ...(job.run_at ? [fact("Run at", fmtTime(job.run_at))] : []),
      ...(job.waiting_reason ? [fact("Waiting for", job.waiting_reason)] : []),
      fact("Started", fmtTime(job.started_at)),
      fact("Finished", fmtTime(job.finished_at)),
      fact("Worker", job.worker_id),
      fact("Next attempt", fmtTime(job.next_attempt_at)),
      fact("Idempotency key", job.idempotency_key),
    ];
    document.getElementById("facts").replaceChildren(...facts.flat());
    document.getElementById("payload").textContent = pretty(job.payload);
    const progressBox = document.getElementById("progress-box");
    progressBox.hidden = job.progress === null || job.progress === undefined;
    if (!progressBox.hidden) {
      document.getElementById("progress").value = job.progress;
      const percent = `${Math.round(job.progress * 100)} %`;
      document.getElementById("progress-text").textContent = job.progress_message ? `${percent} — ${job.progress_message}` : percent;
    }
    document.getElementById("result-box").hidden = job.state !== "succeeded";
    document.getElementById("result").textContent = pretty(job.result);
    document.getElementById("error-box").hidden = !job.error;
    document.getElementById("error").textContent = job.error || "";
    const cancel = document.getElementById("cancel-job");
    if (cancel) cancel.hidden = !CANCELLABLE.has(job.state) || job.cancel_requested;
    const retry = document.getElementById("retry-job");
    if (retry) retry.hidden = job.state !== "dead";
  }

  function drawTraceback(text) {
    const node = document.getElementById("traceback");
    node.textContent = text || "";
    node.hidden = !text;
    document.getElementById("h-traceback").hidden = !text;
  }

  function eventItem(event) {
    const data = event.data || {};
    const detail = data.error || data.message || (data.progress !== undefined ? `progress ${Math.round(data.progress * 100)} %` : "");
    return el(
      "li",
      { "data-kind": event.kind },
      el("time", { datetime: event.at }, fmtTime(event.at)),
      " ",
      el("strong", {}, event.kind),
      ` (attempt ${event.attempt})`,
      event.worker_id ? el("span", { class: "mono" }, ` on ${event.worker_id}`) : null,
      detail ? el("div", { class: "detail" }, detail) : null,
    );
  }

  function drawEvents(events) {
    document.getElementById("events").replaceChildren(...events.map(eventItem));
    const failed = events.filter((event) => event.data && event.data.traceback);
    latestTraceback = failed.length ? failed[failed.length - 1].data.traceback : null;
    drawTraceback(latestTraceback);
  }

  function render(sections) {
    const problem = document.getElementById("job-problem");
    if (sections.job) {
      if (sections.job.status !== 200) {
        show(problem, problemOf(sections.job, `Job ${jobId}`));
      } else {
        show(problem, "");
        drawJob(sections.job.body);
      }
    }
    if (sections.events && sections.events.status === 200) drawEvents(sections.events.body.events);
    if (sections.dead && sections.dead.status === 200 && sections.dead.body.traceback) {
      drawTraceback(sections.dead.body.traceback);
    }
  }

  function wire() {
    const cancel = document.getElementById("cancel-job");
    if (cancel) {
      cancel.addEventListener("click", async () => {
        if (await window.JQ.confirmAction(`Cancel job ${jobId}?`, "Cancel job")) {
          await window.JQ.run("Cancel", "DELETE", `/jobs/${path}`);
        }
      });
    }
    const retry = document.getElementById("retry-job");
    if (retry) {
      retry.addEventListener("click", () => window.JQ.run("Retry", "POST", `/dlq/${path}/replay`));
    }
  }

  wire();
  window.JQ.stream("job", { id: jobId }, render);
})();
