// Small progressive enhancements; every page works without this file.
// The header menu: on a narrow screen the CSS folds it (only under .js, so that without this
// file it stays open) behind the Menu button, which opens and closes it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var button = document.querySelector(".menu-toggle");
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) return;
  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
})();
// An open bulk-action menu (<details class="menu">) closes on Escape or a click elsewhere.
(function () {
  "use strict";
  var menus = document.querySelectorAll("details.menu");
  if (!menus.length) return;
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) { if (menu.open && !menu.contains(event.target)) menu.open = false; });
    // A chosen action closes its menu (after the form has been submitted, e.g. a download).
    var chosen = event.target.closest && event.target.closest(".menu-panel button, .menu-panel a");
    if (chosen) setTimeout(function () { chosen.closest("details.menu").open = false; }, 0);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus.forEach(function (menu) {
      if (menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
    });
  });
})();
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
// Generate: the currency follows the chosen reseller (each option carries its currency).
(function () {
  "use strict";
  document.querySelectorAll("select[data-sets-currency]").forEach(function (select) {
    var currency = select.form && select.form.querySelector("select[name=currency]");
    if (!currency) return;
    select.addEventListener("change", function () {
      var chosen = select.options[select.selectedIndex];
      var code = chosen && chosen.getAttribute("data-currency");
      if (code) currency.value = code;
    });
  });
})();
// Card list: on a narrow screen the Advanced search folds after a search (the chips above it
// show what is searched), so the results come first.
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(max-width: 700px)").matches) return;
  document.querySelectorAll("details[data-fold-narrow]").forEach(function (details) {
    if (!details.querySelector(".has-error")) details.open = false;
  });
})();
// A table wider than the screen scrolls inside its box: a box that scrolls must be reachable
// by keyboard (Tab, then the arrow keys) and say what it holds. Checked again on resize.
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".table-wrap");
  if (!boxes.length) return;
  function title(box) {
    var table = box.querySelector("table");
    var caption = table && (table.getAttribute("aria-label") || (table.caption && table.caption.textContent));
    if (caption) return caption.trim();
    for (var el = box.previousElementSibling; el; el = el.previousElementSibling) {
      if (/^H[1-4]$/.test(el.tagName)) return el.textContent.trim();
    }
    var section = box.closest("section, main");
    var heading = section && section.querySelector("h1, h2, h3");
    return heading ? heading.textContent.trim() : "Table";
  }
  function mark() {
    boxes.forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", title(box) + " (scrolls sideways)");
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  mark();
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(mark, 100);
  });
})();
