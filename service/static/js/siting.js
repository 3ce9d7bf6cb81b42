// The siting job page: poll GET /api/siting/jobs/{id} and go to the result when it is done.
(function () {
  "use strict";
  var box = document.getElementById("siting-job");
  if (!box) return;
  var api = box.dataset.api, delay = 1000;
  function show(job) {
    box.dataset.status = job.status;
    document.getElementById("job-status").textContent = job.status_label;
    var active = job.status === "queued" || job.status === "running";
    var phase = document.getElementById("job-phase"), bar = document.getElementById("job-progress");
    phase.textContent = job.phase || "";
    phase.hidden = !active;
    bar.value = job.progress || 0;
    bar.hidden = !active;
    var err = document.getElementById("job-error");
    if (job.status === "failed") {
      err.textContent = "计算失败：" + (job.error || "原因不明");
      err.hidden = false;
    }
  }
  function poll() {
    fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (job) {
        show(job);
        if (job.status === "done" && job.result_url) { window.location.replace(job.result_url); return; }
        if (job.status === "queued" || job.status === "running") {
          delay = Math.min(delay * 1.3, 4000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () { window.setTimeout(poll, 4000); });
  }
  if (box.dataset.status === "queued" || box.dataset.status === "running") window.setTimeout(poll, 500);
})();
