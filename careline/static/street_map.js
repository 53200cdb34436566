// careline street map: Leaflet (served by careline from /static/vendor/leaflet) over the
// configured tile source. The board's map (#street-map) reads its markers from
// /dashboard/map/points when the page loads and after each live update, keeping markers (and
// an open card) in place; a caregiver's day (#day-map) draws its numbered route once.
// Every text shown comes from the server (gettext catalogs) through data-* attributes or JSON.
(function () {
  "use strict";
  if (typeof L === "undefined") { return; }

  function tileLayer(el) {  // the tile source, and its street-name layer over it when there is one
    var d = el.dataset, options = { maxZoom: Number(d.maxZoom) || 19, subdomains: d.subdomains || "abc" };
    var layers = [L.tileLayer(d.tileUrl, L.extend({ attribution: d.attribution }, options))];
    if (d.labelsUrl) { layers.push(L.tileLayer(d.labelsUrl, options)); }
    return L.layerGroup(layers);
  }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function link(href, text, cls) { var a = node("a", cls, text); a.href = href; return a; }

  function homeCard(m, words) {
    var card = node("div", "mapcard" + (m.emergency ? " emergency" : ""));
    card.setAttribute("data-card", "home:" + m.id);
    var head = node("p", "mc-who");
    head.appendChild(node("b", null, m.name || m.id));
    head.appendChild(node("small", null, " " + m.id));
    card.appendChild(head);
    card.appendChild(node("p", "mc-label", words.tRequests));
    var list = node("ul", "reqs");
    m.requests.forEach(function (r) {
      var li = node("li", r.emergency ? "stat" : null);
      li.appendChild(node("span", "prio" + (r.emergency ? " stat" : ""), r.priority));
      li.appendChild(document.createTextNode(" " + r.id + " · " + r.service + " · " + r.status + " "));
      var jump = node("button", "small quietbtn", words.tShow);
      jump.type = "button";
      jump.setAttribute("data-jump", r.id);
      li.appendChild(jump);
      list.appendChild(li);
    });
    card.appendChild(list);
    card.appendChild(link(m.card, words.tCard, "card-link"));
    return card;
  }
  function caregiverCard(m, words) {
    var card = node("div", "mapcard");
    card.setAttribute("data-card", "caregiver:" + m.id);
    var head = node("p", "mc-who");
    head.appendChild(node("b", null, m.id));
    card.appendChild(head);
    card.appendChild(node("p", null, m.detail));
    card.appendChild(link(m.day, words.tDay, "day-link"));
    return card;
  }
  function icon(m) {
    var cls = "pin " + m.kind + " " + (m.state || "") + (m.emergency ? " emergency" : "");
    var size = m.emergency ? 30 : (m.kind === "home" ? 22 : 20);
    // a caregiver stands beside the point (up and left), so at an elder's home both stay visible
    var anchor = m.kind === "caregiver" ? [size + 4, size + 4] : [size / 2, size / 2];
    return L.divIcon({ className: cls, html: m.emergency ? "!" : "", iconSize: [size, size], iconAnchor: anchor });
  }

  function newMap(el) {  // Leaflet's controls in the page's language (its own words are English)
    var d = el.dataset, map = L.map(el, { scrollWheelZoom: false, zoomControl: false });
    L.control.zoom({ zoomInTitle: d.tZoomIn, zoomOutTitle: d.tZoomOut }).addTo(map);
    map.on("popupopen", function (e) {
      var close = e.popup.getElement().querySelector(".leaflet-popup-close-button");
      if (close) { close.setAttribute("aria-label", d.tClose); close.title = d.tClose; }
    });
    return map;
  }
  function cardSize(el) {  // a card as wide as it reads well, never wider than the map on a phone
    var room = Math.max(160, el.clientWidth - 70);
    return { minWidth: Math.min(220, room), maxWidth: Math.min(280, room), autoPanPadding: [12, 12] };
  }

  // The board: markers keyed by kind:id, moved or re-drawn only when they change.
  function boardMap(el) {
    el.setAttribute("data-ready", "1");
    var map = newMap(el);
    tileLayer(el).addTo(map);
    var shown = {}, fitted = false, busy = false, last = 0;
    var unplaced = document.getElementById("street-map-unplaced");
    function load() {
      if (busy || Date.now() - last < 1500) { return; }
      busy = true; last = Date.now();
      fetch(el.dataset.points, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          busy = false;
          if (!j) { return; }
          var seen = {};
          var bounds = j.markers.map(function (m) { return [m.lat, m.lon]; });
          if (!fitted && bounds.length) { map.fitBounds(bounds, { padding: [28, 28], maxZoom: 16 }); fitted = true; }
          if (!fitted) { map.setView([0, 0], 1); }  // markers are drawn once the map has a view
          j.markers.forEach(function (m) {
            var key = m.kind + ":" + m.id, text = JSON.stringify(m), held = shown[key];
            seen[key] = true;
            if (held && held.text === text) { return; }
            var content = m.kind === "home" ? homeCard(m, el.dataset) : caregiverCard(m, el.dataset);
            if (held) {
              held.marker.setLatLng([m.lat, m.lon]).setIcon(icon(m)).setPopupContent(content);
              held.marker.getElement().title = m.title;
              held.text = text;
              return;
            }
            var marker = L.marker([m.lat, m.lon], { icon: icon(m), title: m.title, alt: m.title, keyboard: true,
                                                    zIndexOffset: m.emergency ? 1000 : (m.kind === "home" ? 500 : 0) });
            marker.bindPopup(content, cardSize(el)).addTo(map);
            marker.getElement().setAttribute("data-marker", key);
            shown[key] = { marker: marker, text: text };
          });
          Object.keys(shown).forEach(function (key) {
            if (!seen[key]) { map.removeLayer(shown[key].marker); delete shown[key]; }
          });
          if (unplaced) { unplaced.textContent = j.unplaced.text; }
          el.setAttribute("data-markers", String(j.markers.length));
        })
        .catch(function () { busy = false; });
    }
    load();
    var board = document.getElementById("board");
    if (board) { board.addEventListener("board:patched", load); }
  }

  // A caregiver's day: the home base, then the numbered stops joined by the route.
  function dayMap(el) {
    var data = JSON.parse(el.dataset.route);
    var map = newMap(el);
    tileLayer(el).addTo(map);
    var bounds = (data.base ? [data.base] : []).concat(data.stops.map(function (s) { return [s.lat, s.lon]; }));
    if (bounds.length) { map.fitBounds(bounds, { padding: [28, 28], maxZoom: 16 }); } else { map.setView([0, 0], 1); }
    if (data.line.length > 1) { L.polyline(data.line, { className: "route", weight: 4 }).addTo(map); }
    if (data.base) {
      L.marker(data.base, { icon: L.divIcon({ className: "pin base", html: "⌂", iconSize: [24, 24] }),
                            title: el.dataset.tBase, alt: el.dataset.tBase, keyboard: true })
        .bindPopup(node("p", null, el.dataset.tBase)).addTo(map);
    }
    // stops at one home (a second visit to the same elder) share one marker: "1,3"
    var groups = {}, order = [];
    data.stops.forEach(function (s) {
      var key = s.lat + "," + s.lon;
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push(s);
    });
    order.forEach(function (key) {
      var here = groups[key], numbers = here.map(function (s) { return s.number; }).join(",");
      var card = node("div", "mapcard"), title = [];
      here.forEach(function (s) {
        var line = s.number + ". " + s.time + " · " + s.service + " · " + (s.elder || s.elder_id) + " · " + s.status_text;
        title.push(line);
        card.appendChild(node("p", "mc-who", line));
      });
      card.appendChild(link("/dashboard/elders/" + encodeURIComponent(here[0].elder_id), el.dataset.tCard, "card-link"));
      var marker = L.marker([here[0].lat, here[0].lon], {
        icon: L.divIcon({ className: "pin stop " + here[here.length - 1].status + (here.length > 1 ? " several" : ""),
                          html: numbers, iconSize: [here.length > 1 ? 38 : 26, 26] }),
        title: title.join(" / "), alt: title.join(" / "), keyboard: true });
      marker.bindPopup(card, cardSize(el)).addTo(map);
      marker.getElement().setAttribute("data-stop", numbers);
    });
  }

  // "Show in the list": the request's row on the board, scrolled to and marked for a moment.
  document.addEventListener("click", function (e) {
    var id = e.target.getAttribute && e.target.getAttribute("data-jump");
    if (!id) { return; }
    var row = document.querySelector('#requests [data-request="' + CSS.escape(id) + '"]');
    if (!row) { return; }
    row.scrollIntoView({ block: "center" });
    row.classList.add("flash");
    var focusable = row.querySelector("button, a");
    if (focusable) { focusable.focus({ preventScroll: true }); }
    setTimeout(function () { row.classList.remove("flash"); }, 2500);
  });

  function start() {
    var board = document.getElementById("street-map");
    if (board && !board.hasAttribute("data-ready")) { boardMap(board); }
    var day = document.getElementById("day-map");
    if (day) { dayMap(day); }
  }
  start();
  var host = document.getElementById("board");
  if (host) { host.addEventListener("board:patched", start); }  // the street map may appear with an update
})();
