// Glossa's small browser script: the task import (a fetch to the JSON API
// with the session's CSRF token), confirmations, copying a new token and
// the data manager's "select all". Everything else works without
// JavaScript, except the labeling page, which has label.js.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = meta ? meta.getAttribute("content") : "";

  // Forms with data-confirm ask before they submit (revoking a token).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // Buttons with data-confirm ask before they submit their form (the data
  // manager's delete).
  document.querySelectorAll("button[data-confirm]").forEach(function (btn) {
    btn.addEventListener("click", function (event) {
      if (!window.confirm(btn.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // The data manager's "select all" ticks every task of the page.
  var selectAll = document.getElementById("dm-select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll('#dm-form input[name="ids"]').forEach(function (box) {
        box.checked = selectAll.checked;
      });
    });
  }

  // Choosing a labeling template fills in its configuration, to edit.
  var template = document.getElementById("template");
  var config = document.getElementById("label_config");
  if (template && config) {
    template.addEventListener("change", function () {
      var chosen = template.options[template.selectedIndex];
      config.value = chosen.getAttribute("data-config") || "";
    });
  }

  // Task import: send the chosen file, or the pasted JSON, as the body of
  // POST /api/projects/{id}/import and say what happened.
  var importForm = document.getElementById("import-form");
  if (importForm) {
    var fileInput = document.getElementById("import-file");
    var textInput = document.getElementById("import-text");
    var button = document.getElementById("import-button");
    var result = document.getElementById("import-result");
    var show = function (text, kind) {
      result.textContent = text;
      result.className = "result " + (kind || "");
    };
    importForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = fileInput.files && fileInput.files[0];
      var body = file || textInput.value;
      if (!file && textInput.value.trim() === "") {
        show("Choose a JSON file or paste JSON first.", "bad");
        return;
      }
      button.disabled = true;
      show("Importing…");
      fetch(importForm.getAttribute("data-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
        body: body
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (data) {
          if (res.ok && data) {
            show("Imported " + data.task_count + " task(s), " + data.annotation_count +
              " annotation(s) and " + data.prediction_count + " prediction(s). Reload the page to see them.", "ok");
            fileInput.value = "";
            textInput.value = "";
          } else if (data && data.error) {
            show("Nothing was imported: " + data.error.message +
              (data.error.request_id ? " (request " + data.error.request_id + ")" : ""), "bad");
          } else {
            show("Nothing was imported: the server answered " + res.status + ". Try again.", "bad");
          }
        });
      }).catch(function () {
        show("Nothing was imported: the server could not be reached. Check your connection and try again.", "bad");
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  // Copy buttons copy the text of the element named by data-copy: the value
  // of an input (the SP values on the single sign-on page), else its text.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el) { return; }
      var text = el.tagName === "INPUT" || el.tagName === "TEXTAREA" ? el.value : el.textContent;
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(el); });
      } else {
        selectText(el);
      }
    });
  });

  function selectText(el) {
    if (typeof el.select === "function") {
      el.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
})();
