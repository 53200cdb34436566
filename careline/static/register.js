// careline register and elder card: the registered-callers panel (polled every 2 s) and the
// card's one-click service buttons (sent with fetch; a plain form post works without script).
(function () {
  "use strict";
  var callers = document.getElementById("callers");
  var message = document.getElementById("message");

  function say(text, bad) {
    if (!message) { return; }
    message.textContent = text;
    message.className = "message" + (bad ? " bad" : "");
  }
  function poll() {
    fetch(callers.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) { if (html !== null && html !== callers.innerHTML) { callers.innerHTML = html; } })
      .catch(function () {});
  }
  if (callers) { poll(); setInterval(poll, 2000); }

  var quick = document.getElementById("quick");
  if (quick) {
    quick.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = new FormData(quick);
      if (e.submitter && e.submitter.name) { body.set(e.submitter.name, e.submitter.value); }
      fetch(quick.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": body.get("csrf_token") || "" } })
        .then(function (r) { return r.json(); })
        .then(function (j) { say(j.ok ? "✔ " + j.message : "✘ " + (j.message || j.detail), !j.ok); })
        .catch(function () { say("✘ network", true); });
    });
  }
})();
