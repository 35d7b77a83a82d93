// Copy buttons of the bank transfer (issue 14): shown only with JavaScript;
// without it, the IBAN and the communication are selectable text (a tap
// selects them whole).
"use strict";
document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
  var src = document.getElementById(btn.getAttribute("data-copy"));
  if (!src || !navigator.clipboard) { return; }
  btn.hidden = false;
  btn.addEventListener("click", function () {
    var text = src.textContent.trim();
    navigator.clipboard.writeText(text).then(function () {
      var done = document.querySelector(".copied");
      btn.setAttribute("data-copied", text);
      if (done) { done.textContent = btn.getAttribute("data-done") || ""; }
    }, function () {
      // Refused (permissions): select the text for a manual copy.
      var r = document.createRange();
      r.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
    });
  });
});
