/* The console's small helpers (served from /static, so the CSP's script-src 'self' holds):
   - a table too wide for the screen scrolls sideways and can be reached by keyboard;
   - a form button with data-confirm asks before it acts (scheduling, cancelling);
   - the campaign editor's live preview (see campaign-editor.js). */
(function () {
  "use strict";
  function scrollables() {
    document.querySelectorAll("main table").forEach(function (t) {
      if (t.scrollWidth > t.clientWidth + 1) {
        t.setAttribute("tabindex", "0");
        t.setAttribute("role", "region");
        if (!t.hasAttribute("aria-label")) {
          var cap = t.querySelector("caption");
          var head = t.previousElementSibling;
          t.setAttribute("aria-label", (cap && cap.textContent.trim()) || (head && head.textContent.trim()) || "Tabel");
        }
      } else if (t.getAttribute("role") === "region") {
        t.removeAttribute("tabindex");
        t.removeAttribute("role");
      }
    });
  }
  document.addEventListener("submit", function (ev) {
    var button = ev.submitter || ev.target.querySelector("[data-confirm]");
    var text = (button && button.getAttribute("data-confirm")) || ev.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) ev.preventDefault();
  });
  window.addEventListener("resize", scrollables);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scrollables);
  else scrollables();
})();
