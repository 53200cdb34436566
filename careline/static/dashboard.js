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
      .then(function (html) { if (html !== null && html !== undefined) { patch(board, html); } })
      .catch(function () { setFeed(false); });
  }
  // Patch, not repaint: the new fragment is parsed off-screen and only what changed is
  // touched, keyed by id and data-* row keys, so scroll positions, keyboard focus, an open
  // <select> and text typed into a form on the board survive every update.
  var KEYS = ["id", "data-request", "data-emergency", "data-caregiver", "data-loose-end", "data-followup", "data-elder"];
  function keyOf(node) {
    if (node.nodeType !== 1) { return null; }
    for (var i = 0; i < KEYS.length; i++) {
      var v = node.getAttribute(KEYS[i]);
      if (v) { return KEYS[i] + "=" + v; }
    }
    return null;
  }
  function typed(node) { return node.nodeName === "INPUT" || node.nodeName === "TEXTAREA" || node.nodeName === "SELECT"; }
  function sameKind(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b);
  }
  function syncAttributes(from, to) {
    var i, a;
    for (i = from.attributes.length - 1; i >= 0; i--) {
      a = from.attributes[i].name;
      if (!to.hasAttribute(a)) { from.removeAttribute(a); }
    }
    for (i = 0; i < to.attributes.length; i++) {
      a = to.attributes[i];
      if (typed(from) && a.name === "value" && from.getAttribute("value") !== null) { continue; }  // what the operator typed stays
      if (from.getAttribute(a.name) !== a.value) { from.setAttribute(a.name, a.value); }
    }
  }
  function morph(from, to) {
    if (from.nodeType === 3 || from.nodeType === 8) {
      if (from.nodeValue !== to.nodeValue) { from.nodeValue = to.nodeValue; }
      return;
    }
    if (from.hasAttribute("data-patch-keep")) { return; }  // drawn by its own script (the street map)
    syncAttributes(from, to);
    if (from.nodeName === "SELECT" && from === document.activeElement) { return; }  // an open drop-down is left alone
    morphChildren(from, to);
  }
  function morphChildren(from, to) {
    var keyed = {}, wanted = {}, child, k;
    for (child = from.firstChild; child; child = child.nextSibling) { k = keyOf(child); if (k) { keyed[k] = child; } }
    for (child = to.firstChild; child; child = child.nextSibling) { k = keyOf(child); if (k) { wanted[k] = true; } }
    var cursor = from.firstChild;
    function dropUnwanted() {  // rows that left the board go before anything is matched past them
      while (cursor && keyOf(cursor) && !wanted[keyOf(cursor)]) {
        var gone = cursor; cursor = cursor.nextSibling; from.removeChild(gone);
      }
    }
    for (var next = to.firstChild; next; ) {
      var after = next.nextSibling, want = keyOf(next), match = null;
      dropUnwanted();
      if (want && keyed[want] && sameKind(keyed[want], next)) { match = keyed[want]; delete keyed[want]; }
      else if (!want && cursor && !keyOf(cursor) && sameKind(cursor, next)) { match = cursor; }
      if (match) {
        if (match !== cursor) { from.insertBefore(match, cursor); }  // moved only when the order changed
        else { cursor = cursor.nextSibling; }
        morph(match, next);
      } else {
        from.insertBefore(document.importNode(next, true), cursor);
      }
      next = after;
    }
    while (cursor) { var rest = cursor; cursor = cursor.nextSibling; from.removeChild(rest); }
  }
  function patch(target, html) {
    // the server's escaped fragment, parsed into an inert document (nothing runs or loads there)
    var fresh = new DOMParser().parseFromString("<body>" + html + "</body>", "text/html").body;
    var focused = document.activeElement;
    morphChildren(target, fresh);
    // a row that moved (its order changed) takes the focused control with it; focus goes back
    if (focused && focused !== document.activeElement && document.body.contains(focused)) {
      focused.focus({ preventScroll: true });
    }
    board.dispatchEvent(new CustomEvent("board:patched"));
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
    if (input) { input.value = id; choose(id); document.getElementById("reassign-caregiver").focus(); }
  });

  // The reassign list: fetched when a request is picked, so it is current; only caregivers
  // dispatch would accept, in dispatch's ranking order with its terms; the others with why not.
  function choose(id) {
    var select = document.getElementById("reassign-caregiver");
    var excluded = document.getElementById("reassign-excluded");
    if (!select || !excluded) { return; }
    var words = excluded.dataset;
    fetch("/dashboard/requests/" + encodeURIComponent(id) + "/choices", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || document.getElementById("reassign-request").value !== id) { return; }
        var kept = select.dataset.touched === id ? select.value : null;  // the operator's own pick stays
        select.replaceChildren();
        j.choices.forEach(function (c) {
          var o = document.createElement("option");
          o.value = c.caregiver_id;
          o.textContent = c.rank + ". " + c.caregiver_id + " · " + words.travel + c.travel_added_minutes + " " + words.minutes +
            (c.lateness_minutes > 0 ? " · " + words.late + " " + c.lateness_minutes + " " + words.minutes : "");
          select.appendChild(o);
        });
        if (kept && j.choices.some(function (c) { return c.caregiver_id === kept; })) { select.value = kept; }
        if (!j.choices.length) {
          var none = document.createElement("option");
          none.value = ""; none.textContent = words.none; select.appendChild(none);
        }
        var list = excluded.querySelector("ul");
        list.replaceChildren();
        j.excluded.forEach(function (x) {
          var li = document.createElement("li");
          li.textContent = x.caregiver_id + ": " + x.reason;
          list.appendChild(li);
        });
        select.dispatchEvent(new CustomEvent("choices:loaded", { bubbles: true }));
      })
      .catch(function () { say("✘ network", true); });
  }
  var caregiverSelect = document.getElementById("reassign-caregiver");
  if (caregiverSelect) {
    caregiverSelect.addEventListener("change", function () {
      caregiverSelect.dataset.touched = document.getElementById("reassign-request").value;
    });
  }
  var picked = document.getElementById("reassign-request");
  if (picked) { picked.addEventListener("change", function () { if (picked.value) { choose(picked.value.trim()); } }); }

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
