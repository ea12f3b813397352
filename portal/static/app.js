// Small enhancements htmx does not cover; every page works without this file.
(function () {
  "use strict";
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var zone = browserZone();
    document.querySelectorAll("[data-browser-zone-input]").forEach(function (input) { input.value = zone; });
    document.querySelectorAll("[data-browser-zone]").forEach(function (el) { el.textContent = zone || "—"; });
  });
  // A list that refreshes itself keeps the agent's place: it reloads as many rows as are shown,
  // and waits while rows are selected or the agent is typing in the filters.
  document.addEventListener("htmx:configRequest", function (event) {
    var element = event.detail.elt;
    if (!element.hasAttribute || !element.hasAttribute("data-refresh")) { return; }
    var selected = element.querySelector("input[type=checkbox]:checked");
    var typing = document.activeElement && document.activeElement.closest && document.activeElement.closest("form.filters");
    if (selected || typing) { event.preventDefault(); return; }
    event.detail.parameters.shown = element.querySelectorAll("tr.case-row").length;
  });
})();
