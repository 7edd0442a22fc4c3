/* Policy pages, progressive enhancement only: without this file every permalink is a plain
   link. With it, each clause's permalink gets a "Copy link" button beside it that puts the
   absolute URL on the clipboard and says so in a polite live region. */
(function () {
  "use strict";

  function announce(region, text) {
    region.textContent = "";
    // A fresh text node after a tick makes screen readers read the same message again.
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function fallbackCopy(text) {
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(field);
    return ok;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () {
        return fallbackCopy(text);
      });
    }
    return Promise.resolve(fallbackCopy(text));
  }

  function enhance() {
    var links = document.querySelectorAll("a[data-copy-permalink]");
    if (!links.length) { return; }
    var region = document.createElement("p");
    region.className = "visually-hidden";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    document.body.appendChild(region);
    Array.prototype.forEach.call(links, function (link) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary button--small copy-permalink";
      var key = link.hash ? decodeURIComponent(link.hash.slice(1)) : "";
      button.textContent = "Copy link";
      button.setAttribute("aria-label", "Copy the link to " + key);
      button.setAttribute("data-copied", "false");
      button.addEventListener("click", function () {
        copy(link.href).then(function (ok) {
          button.textContent = ok ? "Copied" : "Copy failed";
          button.setAttribute("data-copied", ok ? "true" : "false");
          announce(region, ok ? "Link to " + key + " copied." : "Could not copy; use the permalink.");
          window.setTimeout(function () { button.textContent = "Copy link"; }, 2000);
        });
      });
      link.insertAdjacentElement("afterend", button);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
