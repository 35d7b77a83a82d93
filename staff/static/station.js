// Live station screen: taps arrive as server-sent events whose data is the
// HTML of a tap card rendered by the server. EventSource reconnects by
// itself and sends Last-Event-ID, so nothing is missed.
(function () {
  var list = document.getElementById("taps");
  var status = document.getElementById("live-status");
  if (!list || !window.EventSource) return;
  var es = new EventSource(list.dataset.events);
  es.onopen = function () { status.textContent = status.dataset.live; status.className = "live on"; };
  es.onerror = function () { status.textContent = status.dataset.reconnecting; status.className = "live off"; };
  es.addEventListener("tap", function (e) {
    var ph = list.querySelector(".placeholder");
    if (ph) ph.remove();
    list.insertAdjacentHTML("afterbegin", e.data);
    while (list.children.length > 30) list.lastElementChild.remove();
  });
})();
