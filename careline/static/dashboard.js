// careline dashboard: live refresh over Server-Sent Events and operator actions via fetch.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var feed = document.getElementById("feed");
  var message = document.getElementById("message");
  var pending = null;

  function refresh() {
    pending = null;
    fetch(board.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || r.status === 401 || r.status === 303) { location.href = "/login?expired=1"; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== undefined) { board.innerHTML = html; } })
      .catch(function () { setFeed(false); });
  }
  function soon() { if (!pending) { pending = setTimeout(refresh, 120); } }
  function setFeed(live) {
    if (!feed) { return; }
    feed.textContent = live ? feed.dataset.live : feed.dataset.off;
    feed.className = "feed " + (live ? "live" : "off");
  }
  function say(text, bad) {
    if (!message) { return; }
    message.textContent = text;
    message.className = "message" + (bad ? " bad" : "");
    setTimeout(function () { if (message.textContent === text) { message.textContent = ""; } }, 6000);
  }

  var source = new EventSource("/dashboard/events");
  source.onopen = function () { setFeed(true); };
  source.onerror = function () { setFeed(false); };
  source.onmessage = function (e) {
    var data = JSON.parse(e.data);
    if (data.type === "expired") { source.close(); location.href = "/login?expired=1"; return; }
    if (data.type !== "hello") { soon(); }
  };
  setInterval(refresh, 5000);  // ages tick even when nothing happens

  var tz = document.querySelector("input[name=tz_offset_minutes]");
  if (tz) { tz.value = String(new Date().getTimezoneOffset()); }

  document.addEventListener("click", function (e) {
    var id = e.target.getAttribute && e.target.getAttribute("data-reassign");
    if (!id) { return; }
    var input = document.getElementById("reassign-request");
    if (input) { input.value = id; document.getElementById("reassign-caregiver").focus(); }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var kind = form.getAttribute("data-action");
    if (!kind) { return; }
    e.preventDefault();
    var body = new FormData(form);
    var url = form.getAttribute("action");
    if (kind === "reassign") { url = "/dashboard/actions/requests/" + encodeURIComponent(body.get("request_id")) + "/reassign"; }
    fetch(url, { method: "POST", body: body, credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRF-Token": body.get("csrf_token") || "" } })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, json: j }; }); })
      .then(function (res) {
        var j = res.json;
        say(j.ok ? "✔ " + j.message : "✘ " + (j.message || j.detail || res.status), !j.ok);
        if (j.ok && kind === "create") { form.reset(); if (tz) { tz.value = String(new Date().getTimezoneOffset()); } }
        refresh();
      })
      .catch(function () { say("✘ network", true); });
  });
})();
