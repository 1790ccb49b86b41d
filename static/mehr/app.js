// Progressive enhancement only: every action works without this script.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      var name = box.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
        c.checked = box.checked;
      });
    }
  });
  // Queue filters: open on wide screens (a phone shows them behind a "Filters" button).
  var more = document.getElementById("morefilters");
  if (more && window.matchMedia("(min-width: 901px)").matches) more.open = true;
  // Opening one action form closes the others, and focuses its first field.
  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (!(d instanceof HTMLDetailsElement) || !d.classList.contains("action") || !d.open) return;
    document.querySelectorAll("details.action[open]").forEach(function (o) { if (o !== d) o.open = false; });
    var first = d.querySelector("select, input[type=text], textarea");
    if (first) first.focus();
  }, true);
})();
