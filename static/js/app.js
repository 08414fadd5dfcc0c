// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // "Tick all" checkbox in a table header.
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-select-all");
      box.closest("form").querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (cb) {
        cb.checked = box.checked;
      });
    });
  });
  // Mass edit: a field's input is enabled only when its mode is "set to".
  document.querySelectorAll("fieldset[data-mode-for]").forEach(function (set) {
    var target = document.getElementById(set.getAttribute("data-mode-for"));
    if (!target) return;
    function sync() {
      var chosen = set.querySelector("input[type=radio]:checked");
      target.disabled = !chosen || chosen.value !== "set";
    }
    set.querySelectorAll("input[type=radio]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });
})();
