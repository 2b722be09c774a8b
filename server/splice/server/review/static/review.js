// Reviewer page: LaTeX rendering, step selection, replacements, heartbeats, keyboard keys.
"use strict";
(function () {
  function renderMath() {
    if (typeof window.renderMathInElement !== "function") return;
    document.querySelectorAll(".math").forEach(function (el) {
      window.renderMathInElement(el, {
        delimiters: [
          {left: "$$", right: "$$", display: true},
          {left: "\\[", right: "\\]", display: true},
          {left: "\\(", right: "\\)", display: false},
          {left: "$", right: "$", display: false}
        ],
        throwOnError: false
      });
    });
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function setup() {
    renderMath();
    var form = document.getElementById("review-form");
    if (!form) {
      document.addEventListener("keydown", function (ev) {
        var claim = document.getElementById("claim");
        if (ev.key === "c" && claim && !typing(ev)) { ev.preventDefault(); claim.click(); }
      });
      return;
    }
    var radios = Array.prototype.slice.call(form.querySelectorAll('input[name="first_error_step"]'));
    var touched = false;
    form.querySelectorAll("select.location").forEach(function (s) {
      s.addEventListener("change", function () { touched = true; });
    });

    function select(step) {
      var radio = radios.filter(function (r) { return r.value === String(step); })[0];
      if (!radio) return;
      radio.checked = true;
      radio.dispatchEvent(new Event("change", {bubbles: true}));
      radio.closest("label").scrollIntoView({block: "nearest"});
    }

    function current() {
      var checked = radios.filter(function (r) { return r.checked; })[0];
      return checked ? Number(checked.value) : -1;
    }

    form.addEventListener("change", function (ev) {
      if (ev.target.name !== "first_error_step") return;
      document.querySelectorAll(".step").forEach(function (l) {
        l.classList.toggle("chosen", l.dataset.step === ev.target.value);
      });
      var step = Number(ev.target.value);
      if (step > 0 && !touched) {
        form.querySelectorAll("select.location").forEach(function (s) { s.value = String(step); });
      }
    });

    document.getElementById("add-replacement").addEventListener("click", function () {
      var box = document.getElementById("replacements");
      var copy = box.firstElementChild.cloneNode(true);
      copy.querySelector("textarea").value = "";
      var step = current();
      if (step > 0) copy.querySelector("select").value = String(step);
      box.appendChild(copy);
      copy.querySelector("textarea").focus();
    });

    function typing(ev) {
      var tag = ev.target.tagName;
      return tag === "TEXTAREA" || tag === "INPUT" && ev.target.type === "text" || tag === "SELECT";
    }

    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit(document.getElementById("submit"));
        return;
      }
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var n = radios.length - 1;  // the last radio is "no error"
      var step = current();
      var keys = {
        j: function () { select(step < 1 ? 1 : Math.min(step + 1, n)); },
        k: function () { select(step < 1 ? 1 : Math.max(step - 1, 1)); },
        n: function () { select(0); },
        h: function () { document.getElementById("cat-high").checked = true; },
        x: function () { document.getElementById("cat-exec").checked = true; },
        e: function () { form.querySelector("textarea").focus(); },
        s: function () { document.getElementById("skip").click(); }
      };
      if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); return; }
      if (/^[1-9]$/.test(ev.key) && Number(ev.key) <= n) { ev.preventDefault(); select(Number(ev.key)); }
    });

    // Keep the lease while the page is open: renew at a third of what is left.
    var lease = document.getElementById("lease");
    function beat(until) {
      var left = new Date(until) - new Date();
      lease.textContent = "lease until " + new Date(until).toLocaleTimeString();
      setTimeout(function () {
        fetch("/heartbeat", {method: "POST", headers: {"X-CSRF-Token": csrf()},
                             credentials: "same-origin"})
          .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
          .then(function (res) {
            if (res[0]) { beat(res[1].lease_until); } else { lease.textContent = res[1].error; }
          })
          .catch(function () { beat(until); });
      }, Math.max(left / 3, 500));
    }
    beat(form.dataset.leaseUntil);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
