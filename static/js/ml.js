// Live progress of training runs on the ML page: polls the runs API while a run is active and
// reloads the page once every run it was watching has finished (so new versions appear).
"use strict";

(function () {
  const table = document.getElementById("runs");
  if (!table) {
    return;
  }
  const url = table.dataset.runsUrl + "?active=1";
  let watching = new Set(
    Array.from(table.querySelectorAll("tr[data-run-id]"))
      .filter((row) => /queued|running/.test(row.querySelector(".run-status").textContent))
      .map((row) => row.dataset.runId)
  );

  async function poll() {
    if (watching.size === 0) {
      return;
    }
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) {
        return;
      }
      const body = await response.json();
      const active = new Set();
      for (const run of body.results || []) {
        active.add(String(run.id));
        const row = table.querySelector(`tr[data-run-id="${run.id}"]`);
        if (!row) {
          continue;
        }
        row.querySelector(".run-status").textContent = run.status;
        row.querySelector(".run-progress").value = run.progress;
        const lines = run.log || [];
        row.querySelector(".run-log").textContent = lines.length ? lines[lines.length - 1] : "";
      }
      const finished = Array.from(watching).some((id) => !active.has(id));
      if (finished) {
        window.location.reload();
        return;
      }
      watching = active;
    } finally {
      window.setTimeout(poll, 2000);
    }
  }

  window.setTimeout(poll, 1000);
})();
