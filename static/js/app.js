/* Progressive enhancement only: every page works without this file.
   It tells the server the reader's time zone (a `tz` cookie read by
   governance.middleware.ReaderTimezoneMiddleware), so times show in local time from the
   next page on. */
(function () {
  "use strict";

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return parts[i].slice(eq + 1);
      }
    }
    return null;
  }

  function rememberTimeZone() {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return; // very old browser: the server keeps showing UTC
    }
    // IANA names ("Asia/Tokyo", "America/Argentina/Buenos_Aires", "Etc/GMT+5") are valid cookie
    // values as they are; they are sent unencoded because the server reads the raw value.
    if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone) || readCookie("tz") === zone) {
      return;
    }
    var secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie =
      "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" + secure;
  }

  // An error summary (forms with errors) takes focus so its list is read out first.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }

  rememberTimeZone();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusErrorSummary);
  } else {
    focusErrorSummary();
  }
})();
