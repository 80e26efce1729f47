/* The campaign editor's live preview: a moment after typing stops, the form as typed is
   posted into the two sandboxed frames (HTML and text), without saving anything. Without
   JavaScript the "Opdatér forhåndsvisning" button does the same for the HTML frame. */
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form || !form.requestSubmit) return;
  var html = document.getElementById("refresh-preview");
  var text = document.getElementById("refresh-text");
  var timer = null;
  function refresh() {
    timer = null;
    form.requestSubmit(html);
    // A form has one planned navigation at a time: the second frame's after the first has left.
    setTimeout(function () { form.requestSubmit(text); }, 80);
  }
  function later() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 600);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  if (document.getElementById("preview-html").getAttribute("src") === "about:blank") refresh();
})();
