// Kiosk: a badge tapped on the kiosk reader selects its pupil (unless the
// cashier is typing an amount); print buttons; receipts print themselves
// once after a top-up.
(function () {
  document.querySelectorAll("button.print").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  if (document.body.dataset.autoprint) {
    window.addEventListener("load", function () { window.print(); });
    if (window.history.replaceState) window.history.replaceState(null, "", window.location.pathname);
  }
  var k = document.getElementById("kiosk");
  var status = document.getElementById("live-status");
  if (!k || !window.EventSource) return;
  var es = new EventSource(k.dataset.events);
  es.onopen = function () { status.textContent = status.dataset.live; status.className = "live on"; };
  es.onerror = function () { status.textContent = status.dataset.reconnecting; status.className = "live off"; };
  es.addEventListener("tap", function () {
    var amount = document.getElementById("amount");
    if (amount && amount.value.trim() !== "") return; // do not lose a typed amount
    es.close();
    window.location.assign(k.dataset.last);
  });
})();
