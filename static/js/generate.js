// Generate: a live preview of what the form will make, before the submit: the total value
// (quantity x amount, in exact cents) and the card numbers the series will take. The page
// carries the next number of each series code in use ("next-numbers"); a new code starts at 1.
(function () {
  "use strict";
  var out = document.getElementById("generate-preview");
  var data = document.getElementById("next-numbers");
  if (!out || !data) return;
  var form = out.closest("form");
  var next = JSON.parse(data.textContent);
  var field = function (name) { return form.querySelector("[name=" + name + "]"); };

  function cents(text) {
    var m = /^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$/.exec(text);
    if (!m) return null;
    return BigInt(m[1]) * 100n + BigInt(((m[2] || "") + "00").slice(0, 2));
  }
  function grouped(big) {
    return big.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function money(c) {
    var cent = c % 100n;
    return grouped(c / 100n) + "." + (cent < 10n ? "0" : "") + cent.toString();
  }
  function serial(code, n) {
    var digits = String(n);
    return code + "-" + (digits.length < 8 ? "00000000".slice(digits.length) + digits : digits);
  }
  function currency() {
    var chosen = field("currency") && field("currency").value;
    if (chosen) return chosen;
    var reseller = field("reseller");
    var option = reseller && reseller.options[reseller.selectedIndex];
    return (option && option.getAttribute("data-currency")) || "";
  }
  function update() {
    var amount = cents(field("amount").value);
    var quantity = /^\s*\d{1,7}\s*$/.test(field("quantity").value) ? parseInt(field("quantity").value, 10) : 0;
    var code = field("code").value.trim();
    if (amount === null || amount <= 0n || quantity < 1 || quantity > 1000000 || !/^[A-Za-z0-9]{1,20}$/.test(code)) {
      out.textContent = "The total value and the card numbers appear here once the amount, quantity and series are filled in.";
      return;
    }
    var first = Object.prototype.hasOwnProperty.call(next, code) ? next[code] : 1;
    var total = money(amount * BigInt(quantity)) + " " + currency();
    var cards = quantity === 1 ? "1 card" : grouped(BigInt(quantity)) + " cards";
    var numbers = quantity === 1
      ? "card number " + serial(code, first)
      : "card numbers " + serial(code, first) + " to " + serial(code, first + quantity - 1);
    out.textContent = cards + " \u00d7 " + money(amount) + " = " + total.trim() + "; " + numbers + ".";
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
