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
      var word = el.querySelector(".check-word");
      if (!word) { return; }
      if (late > 5) {
        el.className = "check check-overdue";
        word.textContent = "overdue " + late + " min";
      } else if (late >= -5) {
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
      if (!active || active === document.body) { window.location.reload(); }
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

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
    refreshBoard();
    dosePreview();
  });
})();
