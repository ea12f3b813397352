// The API token page: copy a new token to the clipboard. Without this file the token can be selected by hand.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("copy-token");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy"));
    input.focus();
    input.select();
    button.addEventListener("click", function () {
      input.select();
      var done = function () { button.textContent = button.getAttribute("data-done"); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
