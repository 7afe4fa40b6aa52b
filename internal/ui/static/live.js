// promobot status page: live updates. The server pushes each fragment of
// the page, rendered, as an event named for the element it replaces.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var live = document.getElementById("live");
  var es = new EventSource("events");
  ["matrix", "promotions", "feed", "dead"].forEach(function (id) {
    es.addEventListener(id, function (e) {
      var el = document.getElementById(id);
      if (el) { el.innerHTML = e.data; }
    });
  });
  es.onopen = function () { if (live) { live.textContent = "Live: changes appear as they happen."; } };
  es.onerror = function () { if (live) { live.textContent = "Live updates interrupted; reconnecting."; } };
})();
