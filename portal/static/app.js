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
})();
