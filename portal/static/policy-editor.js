// Policy editor niceties htmx cannot do: insert palette snippets at the cursor, keep the line
// numbers in step with the text, jump to a finding's line, and bring the findings of the line being
// typed into view in the panel beside the editor. The editor works without this file.
(function () {
  "use strict";

  function lineCount(text) { return text.split("\n").length; }

  function syncGutter(source, gutter) {
    var lines = lineCount(source.value);
    while (gutter.children.length < lines) {
      var item = document.createElement("li");
      item.textContent = String(gutter.children.length + 1);
      gutter.appendChild(item);
    }
    while (gutter.children.length > lines) { gutter.removeChild(gutter.lastChild); }
    // The textarea grows with its text, so the numbers beside it never need to scroll.
    source.rows = Math.max(lines + 2, 12);
  }

  function insertAtCursor(source, snippet) {
    var start = source.selectionStart, end = source.selectionEnd, text = source.value;
    var before = text.slice(0, start), after = text.slice(end);
    var padBefore = before && !/\s$/.test(before) ? " " : "";
    var padAfter = after && !/^\s/.test(after) ? " " : "";
    source.value = before + padBefore + snippet + padAfter + after;
    var caret = (before + padBefore + snippet).length;
    source.focus();
    source.setSelectionRange(caret, caret);
    source.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function goToLine(source, line, column) {
    var lines = source.value.split("\n"), offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    offset += Math.max(0, (column || 1) - 1);
    source.focus();
    source.setSelectionRange(offset, offset);
  }

  function caretLine(source) {
    return source.value.slice(0, source.selectionStart).split("\n").length;
  }

  // Mark the findings of the caret's line and scroll the side panel (not the page) to show them.
  function showCurrentFindings(source) {
    var line = String(caretLine(source));
    var first = null;
    document.querySelectorAll("#policy-findings .finding").forEach(function (item) {
      var current = item.dataset.line === line;
      item.classList.toggle("current", current);
      if (current && !first) { first = item; }
    });
    var panel = document.querySelector(".editor-side");
    if (!first || !panel || panel.scrollHeight <= panel.clientHeight) { return; }
    var top = first.getBoundingClientRect().top - panel.getBoundingClientRect().top;
    if (top < 0 || top + first.offsetHeight > panel.clientHeight) {
      panel.scrollTop += top - panel.clientHeight / 3;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("policy-source");
    if (!source) { return; }
    source.addEventListener("input", function () {
      var gutter = document.getElementById("policy-gutter");
      if (gutter) { syncGutter(source, gutter); }
    });
    ["keyup", "click"].forEach(function (name) {
      source.addEventListener(name, function () { showCurrentFindings(source); });
    });
    document.body.addEventListener("htmx:afterSettle", function () { showCurrentFindings(source); });
    document.querySelectorAll("#policy-palette button.insert").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { insertAtCursor(source, button.dataset.snippet || ""); });
    });
    // Findings are swapped in by htmx, so listen on the document.
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a.finding-line") : null;
      if (!link) { return; }
      event.preventDefault();
      goToLine(source, parseInt(link.dataset.line, 10) || 1, parseInt(link.dataset.column, 10) || 1);
    });
  });
})();
