// Says when a newer night has been published than the one this page shows (checked every minute).
(function () {
  var shown = document.body.getAttribute("data-run-id");
  var banner = document.getElementById("newer-night");
  if (!shown || !banner) return;
  function check() {
    fetch("/night.json", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (night) {
      if (night.run_id && night.run_id !== shown) banner.hidden = false;
    }).catch(function () {});
  }
  setInterval(check, 60000);
})();
