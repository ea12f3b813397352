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

  // Confirmation dialogs (role=alertdialog, each a form with a Cancel link) take focus when they
  // appear, so screen readers read them and the keyboard is where the decision is. Escape or Cancel
  // closes one in place and gives focus back to the button that asked for it. Without this file,
  // Cancel is a plain link back to the page.
  var DIALOG = "[role=alertdialog], [role=dialog]";

  function takeFocus(root) {
    var dialogs = root.querySelectorAll ? root.querySelectorAll(DIALOG) : [];
    if (root.matches && root.matches(DIALOG)) { dialogs = [root]; }
    for (var i = 0; i < dialogs.length; i++) {
      var dialog = dialogs[i];
      if (dialog.hasAttribute("data-focused")) { continue; }
      dialog.setAttribute("data-focused", "");
      if (!dialog.hasAttribute("tabindex")) { dialog.setAttribute("tabindex", "-1"); }
      dialog.focus();
      return;
    }
  }

  function opener(dialog) {
    var form = dialog.querySelector("form[action]");
    var action = form && form.getAttribute("action");
    var forms = document.querySelectorAll("form[action]");
    for (var i = 0; action && i < forms.length; i++) {
      if (forms[i].getAttribute("action") === action && !dialog.contains(forms[i])) {
        var button = forms[i].querySelector("button[type=submit], button:not([type])");
        if (button && button.offsetParent !== null) { return button; }
      }
    }
    var heading = document.querySelector("main h1");
    if (heading && !heading.hasAttribute("tabindex")) { heading.setAttribute("tabindex", "-1"); }
    return heading;
  }

  function closeDialog(dialog) {
    var cancel = dialog.querySelector("form a[href]");
    var back = opener(dialog);
    // The page was the answer to a POST; Cancel's address is where a reload should go.
    if (cancel && window.history.replaceState) { window.history.replaceState(null, "", cancel.href); }
    dialog.parentNode.removeChild(dialog);
    if (back) { back.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () { takeFocus(document); });
  document.addEventListener("htmx:afterSettle", function (event) { takeFocus(event.detail.elt); });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !document.activeElement || !document.activeElement.closest) { return; }
    var dialog = document.activeElement.closest(DIALOG);
    if (dialog && dialog.querySelector("form a[href]")) { event.preventDefault(); closeDialog(dialog); }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    var dialog = link && link.closest(DIALOG);
    if (dialog && link.closest("form") && link === dialog.querySelector("form a[href]")) {
      event.preventDefault();
      closeDialog(dialog);
    }
  });
})();
