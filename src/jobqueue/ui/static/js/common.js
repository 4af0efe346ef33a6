// The dashboard's shared helpers: building elements (text only, never HTML), the page's event
// stream, API calls carrying the CSRF token, a confirmation dialog, and messages.
"use strict";

window.JQ = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const canAdmin = document.body.dataset.canAdmin === "yes";

  // An element with attributes and children; strings become text nodes, so data is never HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = String(value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "href") node.setAttribute("href", safeHref(value));
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Links are built from our own paths only: anything else (javascript:, data:) is dropped.
  function safeHref(value) {
    const text = String(value);
    return text.startsWith("/") && !text.startsWith("//") ? text : "#";
  }

  function show(node, text) {
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  // Redraw a list keeping the nodes of items that did not change, so focus and selection stay
  // put while updates stream in: only changed rows are replaced, in place when the order holds.
  function syncRows(holder, items, keyOf, render, empty) {
    const previous = holder._rows || new Map();
    const next = new Map();
    const nodes = items.map((item) => {
      const key = keyOf(item);
      const text = JSON.stringify(item);
      const kept = previous.get(key);
      const node = kept && kept.text === text ? kept.node : render(item);
      next.set(key, { text, node });
      return node;
    });
    holder._rows = next;
    if (!nodes.length) {
      holder.replaceChildren(empty());
      return;
    }
    const current = [...holder.children];
    const sameKeys = current.length === nodes.length && items.every((item, i) => current[i].dataset.key === keyOf(item));
    for (const [i, node] of nodes.entries()) node.dataset.key = keyOf(items[i]);
    if (!sameKeys) {
      holder.replaceChildren(...nodes);
      return;
    }
    nodes.forEach((node, i) => {
      if (current[i] !== node) current[i].replaceWith(node);
    });
  }

  function fmtTime(value) {
    if (value === null || value === undefined || value === "") return "—";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toLocaleString();
  }

  function fmtNumber(value, digits) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    return digits === undefined ? value.toLocaleString() : value.toFixed(digits);
  }

  function fmtSeconds(value) {
    if (value === null || value === undefined) return "—";
    if (value < 1) return `${Math.round(value * 1000)} ms`;
    if (value < 120) return `${value.toFixed(1)} s`;
    return `${(value / 60).toFixed(1)} min`;
  }

  // What an API answer says went wrong, in one line.
  function problemOf(section, what) {
    if (!section) return `${what}: no answer`;
    const body = section.body;
    const message = body && body.error && body.error.message;
    if (section.status === 404 && !message) return `${what} is not available from this API`;
    if (section.status === 404 || section.status === 405) {
      return `${what} is not available from this API (${section.status}: ${message || "not found"})`;
    }
    return `${what}: ${section.status} ${message || ""}`.trim();
  }

  function flash(text, kind) {
    const node = document.getElementById("flash");
    node.className = `flash ${kind || "info"}`;
    show(node, text);
  }

  // A state-changing API call: JSON in and out, the session's CSRF token in its header.
  async function act(method, url, body) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { ok: false, status: 0, body: null, message: "the API did not answer" };
    }
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (error) {
      parsed = null;
    }
    const message = parsed && parsed.error ? parsed.error.message : response.statusText;
    return { ok: response.ok, status: response.status, body: parsed, message };
  }

  // Run an action and tell how it went; a missing route says so plainly.
  async function run(label, method, url, body) {
    const answer = await act(method, url, body);
    if (answer.ok) flash(`${label}: done`, "ok");
    else if (answer.status === 404 || answer.status === 405) {
      flash(`${label}: this API does not offer it (${answer.status}: ${answer.message})`, "error");
    } else flash(`${label} failed: ${answer.status || ""} ${answer.message || ""}`, "error");
    return answer;
  }

  // The confirmation dialog: resolves true only when the person pressed Confirm.
  function confirmAction(text, okLabel) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  // The page's event stream: onChange gets the sections that changed (all of them first).
  function stream(page, params, onChange) {
    const query = new URLSearchParams(params);
    query.set("page", page);
    const live = document.getElementById("live");
    const source = new EventSource(`/ui/stream?${query.toString()}`);
    live.hidden = false;
    live.textContent = "connecting…";
    source.addEventListener("open", () => {
      live.textContent = "live";
      live.className = "live on";
    });
    source.addEventListener("error", () => {
      // CLOSED: the server refused the stream (a session that ended): only a new page helps.
      const closed = source.readyState === EventSource.CLOSED;
      live.textContent = closed ? "disconnected: reload or sign in again" : "reconnecting…";
      live.className = "live off";
    });
    source.addEventListener("change", (message) => {
      let sections;
      try {
        sections = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (sections.error) flash(problemOf(sections.error, "The dashboard could not read its data"), "error");
      onChange(sections);
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    });
    window.addEventListener("pagehide", () => source.close());
    return source;
  }

  function pageParams(names) {
    const here = new URLSearchParams(window.location.search);
    const taken = {};
    for (const name of names) {
      const value = here.get(name);
      if (value) taken[name] = value;
    }
    return taken;
  }

  function button(label, onClick, kind) {
    return el("button", { type: "button", class: kind || "small", onclick: onClick }, label);
  }

  function jobLink(id) {
    return el("a", { href: `/ui/jobs/${encodeURIComponent(id)}`, class: "mono" }, id);
  }

  return {
    act,
    button,
    canAdmin,
    confirmAction,
    el,
    flash,
    fmtNumber,
    fmtSeconds,
    fmtTime,
    jobLink,
    pageParams,
    problemOf,
    syncRows,
    run,
    show,
    stream,
  };
})();
