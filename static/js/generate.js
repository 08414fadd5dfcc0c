// Generate: a live preview of what the form will make, before the submit: the total value
// (quantity x amount) and the card numbers the series will take, in the user's language and
// formats. The sentence has one home, the server (topup.views.series._generate_preview): the
// script sends the fields as they are typed and shows the answer; without it the page still
// says the same after a submit.
(function () {
  "use strict";
  var out = document.getElementById("generate-preview");
  if (!out || !out.dataset.url) return;
  var form = out.closest("form");
  var empty = out.textContent;
  var timer = null;
  var asked = 0;

  function update() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var fields = new URLSearchParams();
      ["amount", "quantity", "code", "currency", "reseller"].forEach(function (name) {
        var input = form.querySelector("[name=" + name + "]");
        if (input) fields.set(name, input.value);
      });
      var ticket = ++asked;
      fetch(out.dataset.url + "?" + fields.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (ticket !== asked || !answer) return;  // a later keystroke asked again
          out.textContent = answer.preview || empty;
        })
        .catch(function () { /* offline: the preview waits for the next keystroke */ });
    }, 250);
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
