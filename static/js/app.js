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
  // A printed card's QR code links to the Payment Gateways page with "#pin=<digits>": the
  // fragment never reaches a server. Fill the PIN field from it, and drop it from the address
  // bar. If the customer must sign in first, the PIN waits in this tab's sessionStorage.
  var match = /^#pin=(\d{8,20})$/.exec(window.location.hash);
  if (match) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
    try { sessionStorage.setItem("topup-pin", match[1]); } catch (e) { /* storage off */ }
  }
  var pinField = document.getElementById("id_pin");
  if (pinField) {
    var pin = match ? match[1] : null;
    try { pin = pin || sessionStorage.getItem("topup-pin"); sessionStorage.removeItem("topup-pin"); } catch (e) { /* storage off */ }
    if (pin && !pinField.value) pinField.value = pin;
  }
})();
