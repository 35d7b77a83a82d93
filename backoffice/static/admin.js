// Copy buttons: <button data-copy="#id"> copies the text of #id.
document.addEventListener("click", function (e) {
  var b = e.target.closest("button[data-copy]");
  if (!b || !navigator.clipboard) return;
  var el = document.querySelector(b.getAttribute("data-copy"));
  if (!el) return;
  navigator.clipboard.writeText(el.textContent).then(function () {
    b.textContent = b.getAttribute("data-done") || b.textContent;
  });
});
