// Payment Gateways: the PIN is shown in groups of four digits as it is typed (the server
// ignores spaces). The caret stays after the same digit it followed, wherever the spaces move.
(function () {
  "use strict";
  function grouped(digits) {
    return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  }
  document.querySelectorAll("input[data-pin-groups]").forEach(function (field) {
    function regroup(atEnd) {
      var value = field.value;
      // Anything but digits and spaces (a dash, a letter) is left as typed: the server explains.
      if (!/^[\d\s]*$/.test(value)) return;
      var caret = atEnd === true || field.selectionStart === null ? value.length : field.selectionStart;
      var digitsBefore = value.slice(0, caret).replace(/\D/g, "").length;
      var next = grouped(value.replace(/\D/g, ""));
      if (next === value) return;
      field.value = next;
      var position = 0;
      for (var seen = 0; position < next.length && seen < digitsBefore; position++) {
        if (/\d/.test(next[position])) seen++;
      }
      field.setSelectionRange(position, position);
    }
    field.addEventListener("input", regroup);
    regroup(true);  // a PIN kept after a refusal: grouped, the caret after its last digit
  });
})();
