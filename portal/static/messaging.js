// Insert buttons for placeholders and actions: the snippet goes where the cursor was in the last field
// used (the message body by default). The pages work without this file; the snippets can be copied.
(function () {
  "use strict";

  function insertAt(field, snippet) {
    var start = field.selectionStart, end = field.selectionEnd, text = field.value;
    if (typeof start !== "number") { start = end = text.length; }
    // A list of actions needs its comma: `approve_return` after `escalate` becomes `escalate, approve_return`.
    var join = field.dataset.join || "";
    if (join && text.slice(0, start).trim() && !/,\s*$/.test(text.slice(0, start))) {
      snippet = join + snippet;
    }
    field.value = text.slice(0, start) + snippet + text.slice(end);
    var caret = start + snippet.length;
    field.focus();
    field.setSelectionRange(caret, caret);
    // Lets htmx check the changed text at once, as if it had been typed.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelectorAll("[data-placeholder-target]");
    if (!fields.length) { return; }
    var last = fields[fields.length - 1];
    fields.forEach(function (field) {
      field.addEventListener("focus", function () { last = field; });
    });
    document.querySelectorAll("button.insert[data-snippet]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { insertAt(last, button.dataset.snippet || ""); });
    });
  });
})();
