// Forms that guide (no inline script: the CSP forbids it). Every page loads this file; each
// part does nothing where its markup is absent, and the pages work without it:
// - a refused form's error summary takes the focus, and its links move the focus to the field;
// - the petition form shows the fields the chosen kind takes and marks the ones it requires
//   (the server enforces the same rules: tracker/petitions/validation.py);
// - a "select all" box ticks every case of the page.
(function () {
  "use strict";

  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      return;
    }
    if (document.activeElement !== summary) {
      summary.focus();
    }
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (target) {
          event.preventDefault();
          target.scrollIntoView({ block: "center" });
          target.focus();
        }
      });
    });
  }

  function showForKind(form, kind) {
    form.querySelectorAll("[data-kind-only]").forEach(function (block) {
      var applies = block.dataset.kindOnly === kind;
      block.hidden = !applies;
      // A hidden field is not sent, so a value left in it is not refused.
      block.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !applies;
      });
    });
    form.querySelectorAll("[data-kind-required]").forEach(function (block) {
      var required = block.dataset.kindRequired === kind;
      block.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.setAttribute("aria-required", required ? "true" : "false");
      });
      block.querySelectorAll("[data-required-note]").forEach(function (note) {
        note.hidden = !required;
      });
    });
    var custody = form.querySelector("[data-pardon-excludes] select");
    if (custody) {
      var excluded = custody.closest("[data-pardon-excludes]").dataset.pardonExcludes.split(" ");
      Array.prototype.forEach.call(custody.options, function (option) {
        option.disabled = kind === "pardon" && excluded.indexOf(option.value) !== -1;
      });
      if (custody.selectedOptions.length && custody.selectedOptions[0].disabled) {
        custody.value = "released";
      }
    }
  }

  function enhancePetitionForm() {
    document.querySelectorAll("form").forEach(function (form) {
      var kind = form.querySelector("select[name='kind']");
      if (!kind || !form.querySelector("[data-kind-only], [data-kind-required]")) {
        return;
      }
      kind.addEventListener("change", function () { showForKind(form, kind.value); });
      showForKind(form, kind.value);
    });
  }

  function enhanceSelectAll() {
    document.querySelectorAll("[data-select-all]").forEach(function (box) {
      var selector = "input[type='checkbox'][name='" + box.dataset.selectAll + "']";
      var items = function () { return document.querySelectorAll(selector); };
      var reflect = function () {
        var boxes = Array.prototype.slice.call(items());
        var ticked = boxes.filter(function (item) { return item.checked; }).length;
        box.checked = boxes.length > 0 && ticked === boxes.length;
        box.indeterminate = ticked > 0 && ticked < boxes.length;
      };
      box.closest("[data-select-all-control]").hidden = false;
      box.addEventListener("change", function () {
        items().forEach(function (item) { item.checked = box.checked; });
      });
      items().forEach(function (item) { item.addEventListener("change", reflect); });
      reflect();
    });
  }

  function enhance() {
    focusErrorSummary();
    enhancePetitionForm();
    enhanceSelectAll();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
