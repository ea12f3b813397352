// Keyboard shortcuts for the queue and the case page, and "select every case shown"; the pages work
// without this file. Keys never fire while the user types in a field or holds a modifier key.
(function () {
  "use strict";
  var current = null; // the case number of the row j/k last moved to

  function typing(target) {
    if (!target || !target.closest) { return false; }
    return Boolean(target.isContentEditable || target.closest("input, textarea, select, [contenteditable]"));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#case-rows tr.case-row")); }
  function currentRow() {
    if (!current) { return null; }
    return document.querySelector('#case-rows tr.case-row[data-case="' + CSS.escape(current) + '"]');
  }
  function mark(row) {
    rows().forEach(function (r) { r.classList.remove("is-current"); });
    if (!row) { current = null; return; }
    row.classList.add("is-current");
    current = row.getAttribute("data-case");
    var link = row.querySelector("a[data-case-link]");
    if (link) { link.focus(); }
  }
  function move(step) {
    var list = rows();
    if (!list.length) { return; }
    var index = list.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + step));
    mark(list[next]);
  }
  function help() {
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && !dialog.open) { dialog.showModal(); }
  }
  function syncPageBox() {
    var box = document.querySelector("[data-select-page]");
    if (!box) { return; }
    var boxes = document.querySelectorAll('#case-rows input[name="case"]');
    var checked = document.querySelectorAll('#case-rows input[name="case"]:checked');
    box.checked = boxes.length > 0 && checked.length === boxes.length;
    box.indeterminate = checked.length > 0 && checked.length < boxes.length;
  }
  function enhance() {
    document.querySelectorAll("[data-shortcuts-open], [data-select-page]").forEach(function (el) { el.hidden = false; });
    if (current) { var row = currentRow(); if (row) { row.classList.add("is-current"); } }
    syncPageBox();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open) { return; }
    var row = currentRow();
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o":
        if (row) { row.querySelector("a[data-case-link]").click(); } else { return; }
        break;
      case "Enter":
        // A focused link or button opens itself; Enter elsewhere opens the current row.
        if (!row || (event.target.closest && event.target.closest("a, button"))) { return; }
        row.querySelector("a[data-case-link]").click();
        break;
      case "x":
        var box = row && row.querySelector('input[name="case"]');
        if (!box) { return; }
        box.click();
        break;
      case "n":
        var next = document.querySelector("a[data-next-case]");
        if (!next) { return; }
        next.click();
        break;
      case "/":
        var search = document.querySelector('form.filters input[name="q"]');
        if (!search) { return; }
        search.focus();
        break;
      case "?": help(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) { help(); }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-page]")) {
      document.querySelectorAll('#case-rows input[name="case"]').forEach(function (box) { box.checked = target.checked; });
      syncPageBox();
    } else if (target.matches && target.matches('#case-rows input[name="case"]')) {
      syncPageBox();
    }
  });
  // Leaving a case page ends the user's presence on it at once instead of when the heartbeat expires.
  window.addEventListener("pagehide", function () {
    var presence = document.querySelector("#case-presence[data-leave]");
    if (!presence || !navigator.sendBeacon) { return; }
    var token = "";
    try { token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return; }
    var form = new FormData();
    form.append("csrf_token", token);
    navigator.sendBeacon(presence.getAttribute("data-leave"), form);
  });
  document.addEventListener("DOMContentLoaded", enhance);
  // The list refreshes itself and filters replace it: keep the current row and the page checkbox.
  document.addEventListener("htmx:afterSettle", enhance);
})();
