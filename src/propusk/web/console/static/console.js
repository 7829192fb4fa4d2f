// Propusk console: progressive enhancement only. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The organization switcher submits when a choice is made.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Live character counters: <input data-counter="id-of-counter" maxlength="255">.
  document.querySelectorAll("input[data-counter]").forEach(function (input) {
    var out = document.getElementById(input.dataset.counter);
    var update = function () { out.textContent = input.value.length + " / " + input.maxLength; };
    input.addEventListener("input", update);
    update();
  });

  // "All apps" turns the app checkboxes off: the key gets every app that exists now.
  document.querySelectorAll("input[data-all-apps]").forEach(function (all) {
    var apps = all.form.querySelectorAll("input[data-app]");
    var update = function () {
      apps.forEach(function (box) { box.disabled = all.checked; if (all.checked) { box.checked = false; } });
    };
    all.addEventListener("change", update);
    update();
  });

  // Live table filter; the form still searches on the server without script.
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var table = document.querySelector(input.dataset.filter);
    var none = document.getElementById("no-match");
    if (!table) { return; }
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var hit = !needle || row.dataset.search.indexOf(needle) !== -1;
        row.hidden = !hit;
        if (hit) { shown += 1; }
      });
      if (none) { none.hidden = shown !== 0; }
    });
  });

  // Forms that ask first (remove a member, revoke a key).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // Delete: the button works only once the name is typed exactly (the server checks too).
  document.querySelectorAll("input[data-must-equal]").forEach(function (input) {
    var button = document.getElementById(input.dataset.enables);
    var update = function () { button.disabled = input.value !== input.dataset.mustEqual; };
    input.addEventListener("input", update);
    update();
  });

  // The secret dialog: modal, focus inside it, and back to the page when it closes.
  document.querySelectorAll("dialog[data-modal]").forEach(function (dialog) {
    if (typeof dialog.showModal === "function") {
      dialog.close();
      dialog.showModal();
    }
    var first = dialog.querySelector("textarea");
    if (first) { first.focus(); first.select(); }
    dialog.addEventListener("close", function () {
      var back = document.getElementById(dialog.dataset.returnFocus);
      if (back) { back.focus(); }
    });
  });

  // Copy buttons; navigator.clipboard needs a secure context, so fall back to execCommand.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.dataset.copy);
      var status = button.closest("dialog").querySelector("[data-copy-status]");
      var done = function () { if (status) { status.textContent = button.dataset.copied; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () {
          source.select(); document.execCommand("copy"); done();
        });
      } else {
        source.select(); document.execCommand("copy"); done();
      }
    });
  });
})();
