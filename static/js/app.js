/* Certifai: small progressive enhancements. No inline scripts or handlers anywhere (CSP-ready):
   everything is bound here. Pages work without this file. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* Repository form: show only the chosen tracker's settings. Hidden sections are also disabled, so their
     inputs are neither submitted nor reachable by keyboard; without JavaScript all sections stay visible. */
  function syncTrackerSections(select) {
    var form = select.form;
    if (!form) return;
    var chosen = select.value;
    form.querySelectorAll("[data-tracker-fields]").forEach(function (fieldset) {
      var show = fieldset.getAttribute("data-tracker-fields") === chosen;
      fieldset.hidden = !show;
      fieldset.disabled = !show;
    });
    form.querySelectorAll("[data-tracker-common]").forEach(function (fieldset) {
      fieldset.hidden = !chosen;
      fieldset.disabled = !chosen;
    });
  }

  function init(root) {
    root.querySelectorAll("select[data-tracker-type-select]").forEach(function (select) {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      select.addEventListener("change", function () { syncTrackerSections(select); });
      syncTrackerSections(select);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });

  /* Close the narrow-screen navigation when a link in it is followed. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest("#sidebar a");
    if (!link || !window.bootstrap) return;
    var panel = window.bootstrap.Offcanvas.getInstance(document.getElementById("sidebar"));
    if (panel) panel.hide();
  });
})();
