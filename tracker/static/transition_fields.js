// Progressive enhancement of the transition form (no inline script: the CSP forbids it).
// Fields that only some actions or reliefs take are hidden until they apply; without this
// script every field shows and the server ignores the ones the chosen action does not take.
(function () {
  "use strict";

  function update(form) {
    var action = form.querySelector("select[name$='action'], input[name$='action']");
    var relief = form.querySelector("select[name$='relief']");
    var actionValue = action ? action.value : "";
    var reliefValue = relief ? relief.value : "";
    form.querySelectorAll("[data-shown-for-action]").forEach(function (element) {
      element.hidden = element.dataset.shownForAction !== actionValue;
    });
    form.querySelectorAll("[data-shown-for-relief]").forEach(function (element) {
      element.hidden = element.dataset.shownForRelief !== reliefValue;
    });
  }

  function enhance() {
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-shown-for-action]")) {
        return;
      }
      form.addEventListener("change", function () { update(form); });
      update(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
