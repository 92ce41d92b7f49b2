// Small live helpers: minutes since the dose, due/overdue countdowns, board refresh and the IV
// dose preview. Progressive enhancement only; every page works without JavaScript.
(function () {
  "use strict";

  // Follow the server's clock, not the workstation's: the page says when it was rendered.
  var skew = Date.parse(document.body.dataset.serverNow || "") - Date.now() || 0;

  function minutesSince(iso) {
    return Math.floor((Date.now() + skew - Date.parse(iso)) / 60000);
  }

  function tick() {
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = minutesSince(el.dataset.since) + " min";
    });
    document.querySelectorAll(".check[data-due]").forEach(function (el) {
      var late = minutesSince(el.dataset.due);
      var tolerance = parseInt(el.dataset.tolerance || "5", 10);
      var word = el.querySelector(".check-word");
      if (!word) { return; }
      if (late > tolerance) {
        el.className = "check check-overdue";
        word.textContent = "overdue " + late + " min";
      } else if (late >= -tolerance) {
        el.className = "check check-due";
        word.textContent = "due now";
      } else {
        word.textContent = "in " + (-late) + " min";
      }
    });
  }

  function refreshBoard() {
    var marker = document.querySelector("[data-refresh-seconds]");
    if (!marker) { return; }
    window.setInterval(function () {
      var active = document.activeElement;
      if (!active || active === document.body) {
        // Marked as passive so an unattended board does not keep the sign-in alive.
        var url = new URL(window.location.href);
        url.searchParams.set("refresh", "1");
        window.location.replace(url.toString());
      }
    }, Number(marker.dataset.refreshSeconds) * 1000);
  }

  function dosePreview() {
    var calc = document.querySelector(".dose-calc");
    var weight = document.getElementById("weight_kg");
    if (!calc || !weight) { return; }
    var perKg = Number(calc.dataset.mgPerKg);
    var minutes = calc.dataset.minutes;
    function update() {
      var kg = Number(weight.value);
      calc.textContent = perKg + " mg/kg over " + minutes + " min" +
        (kg > 0 ? " = " + (Math.round(kg * perKg * 10) / 10).toFixed(1) + " mg" : "");
    }
    weight.addEventListener("input", update);
    update();
  }

  // Show the confirmation fields only when the server will ask for them: a dose above the
  // usual maximum, a given choice. The server decides; without JavaScript they stay visible.
  function revealWhen() {
    document.querySelectorAll("[data-reveal-for]").forEach(function (box) {
      var input = document.getElementById(box.dataset.revealFor);
      if (!input) { return; }
      function update() {
        var show = box.dataset.revealAbove !== undefined
          ? Number(input.value) > Number(box.dataset.revealAbove)
          : input.value === box.dataset.revealEquals;
        box.hidden = !show && !box.querySelector(".is-invalid");
      }
      input.addEventListener("input", update);
      input.addEventListener("change", update);
      update();
    });
  }

  // Warn two minutes before the idle sign-out; "Stay signed in" counts as activity.
  function idleWarning() {
    var body = document.body;
    var banner = document.getElementById("idle-warning");
    if (!banner || !body.dataset.idleSeconds) { return; }
    var deadline = Date.now() + Number(body.dataset.idleSeconds) * 1000;
    var count = banner.querySelector(".idle-count");
    var token = document.querySelector('meta[name="csrf-token"]');

    banner.querySelector(".idle-stay").addEventListener("click", function () {
      fetch(body.dataset.keepaliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.content : ""}
      }).then(function (response) {
        if (!response.ok) { throw new Error("keepalive refused"); }
        return response.json();
      }).then(function (data) {
        deadline = Date.now() + data.seconds_left * 1000;
        banner.hidden = true;
      }).catch(function () { window.location.assign(body.dataset.loginUrl); });
    });

    window.setInterval(function () {
      var left = Math.round((deadline - Date.now()) / 1000);
      if (left <= 0) {
        window.location.assign(body.dataset.loginUrl);
      } else if (left <= 120) {
        count.textContent = left + " seconds";
        if (banner.hidden) {
          banner.hidden = false;
          banner.querySelector(".idle-stay").focus();
        }
      }
    }, 1000);
  }

  // A refused form comes back with its errors: put the keyboard on the first field to fix.
  function focusFirstError() {
    var field = document.querySelector("main .is-invalid");
    if (field) { field.focus(); }
  }

  // A "Print" button (data-print): the page's print view (the REMS form prints as the paper form).
  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstError();
    printButtons();
    idleWarning();
    tick();
    window.setInterval(tick, 30000);
    refreshBoard();
    dosePreview();
    revealWhen();
  });
})();
