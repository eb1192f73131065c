// The run page, live: step states from the run's event stream, applied in batches (one
// repaint per frame however many lines arrive), and a step's detail fetched into the page.
(function () {
  "use strict";
  const FINISHED = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"];

  function livePage(run) {
    const nodes = new Map();
    run.querySelectorAll("[data-step]").forEach(function (node) {
      nodes.set(node.getAttribute("data-step"), node);
    });
    const pending = new Map();
    let scheduled = false;
    let lastStatus = null;

    function setState(node, state) {
      if (node.getAttribute("data-state") === state) return;
      node.setAttribute("data-state", state);
      node.setAttribute("class", "node state-" + state);
      const kind = node.querySelector("text.kind");
      if (kind) kind.textContent = state;
      const title = node.querySelector("title");
      if (title) title.textContent = title.textContent.replace(/(: [A-Z]+)?$/, ": " + state);
    }

    function flush() {
      scheduled = false;
      pending.forEach(function (state, key) {
        const node = nodes.get(key);
        if (node) setState(node, state);
      });
      pending.clear();
      if (lastStatus) {
        run.querySelectorAll('[data-field="status"]').forEach(function (badge) {
          badge.textContent = lastStatus.status;
          badge.setAttribute("class", "badge status-" + lastStatus.status);
        });
        const done = run.querySelector('[data-field="stepsCompleted"]');
        if (done) done.textContent = String(lastStatus.stepsCompleted);
        const failed = run.querySelector('[data-field="stepsFailed"]');
        if (failed) failed.textContent = String(lastStatus.stepsFailed);
      }
    }

    function schedule() {
      if (scheduled) return;
      scheduled = true;
      if (document.hidden) setTimeout(flush, 100);
      else requestAnimationFrame(flush);
    }

    const source = new EventSource(run.getAttribute("data-events"));
    source.addEventListener("log", function (event) {
      const line = JSON.parse(event.data);
      if (line.stepKey && line.stepStatus) {
        pending.set(line.stepKey, line.stepStatus);
        schedule();
      }
    });
    source.addEventListener("status", function (event) {
      lastStatus = JSON.parse(event.data);
      schedule();
      if (FINISHED.indexOf(lastStatus.status) >= 0) {
        source.close();
        flush();
        run.setAttribute("data-finished", "true");
        htmx.ajax("GET", run.getAttribute("data-summary"), {
          target: "#run-summary",
          swap: "outerHTML",
        });
      }
    });
    source.addEventListener("error", function () {
      // A closed stream (signed out, or the server went away): the page shows what it had;
      // a reload picks the run up again (or goes to the sign-in page).
      if (source.readyState === EventSource.CLOSED && run.getAttribute("data-finished") !== "true") {
        run.setAttribute("data-stream", "closed");
      }
    });
  }

  function stepLinks(run) {
    run.addEventListener("click", function (event) {
      const link = event.target.closest("a[data-fragment]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      htmx
        .ajax("GET", link.getAttribute("data-fragment"), { target: "#step-detail", swap: "innerHTML" })
        .then(function () {
          history.replaceState(null, "", link.getAttribute("href"));
          run.querySelectorAll("a[data-fragment]").forEach(function (other) {
            other.removeAttribute("aria-current");
          });
          link.setAttribute("aria-current", "true");
          document.getElementById("step-detail").focus({ preventScroll: true });
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const run = document.getElementById("run");
    if (!run) return;
    stepLinks(run);
    if (run.getAttribute("data-finished") !== "true") livePage(run);
  });
})();
