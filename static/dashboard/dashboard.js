// The dashboard's script (the pages work without it):
// - bulk forms (<form data-bulk>, or data-bulk="emails": the name of their boxes, default ids)
//   such as the review queue and the Grow page: the "select all" box, the count of ticked
//   boxes, and bulk buttons that stay disabled until something is ticked;
// - the analytics page: a number's explanation also opens on a tap (touch screens have no
//   hover) and closes with Escape or a tap elsewhere; editing a date picks "Custom dates";
// - inside Shopify admin (<html data-embedded>), Shopify's pattern for server-rendered embedded
//   apps: the iframe has no cookies, so every link and form of the app is fetched with
//   `Authorization: Bearer <fresh session token from shopify.idToken()>` and the answer
//   replaces the page.
(function () {
  "use strict";

  function picks(form) {
    return "input[name=" + (form.getAttribute("data-bulk") || "ids") + "]";
  }

  function updateBulk(form) {
    var boxes = form.querySelectorAll(picks(form));
    var ticked = form.querySelectorAll(picks(form) + ":checked").length;
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) {
      button.disabled = ticked === 0;
    });
    form.querySelectorAll("[data-selected-count]").forEach(function (out) {
      out.textContent = String(ticked);
    });
  }

  function setUp() {
    document.querySelectorAll("form[data-bulk]").forEach(function (form) {
      form.querySelectorAll("[data-when-scripted]").forEach(function (element) {
        element.hidden = false;
      });
      updateBulk(form);
    });
    document.dispatchEvent(new Event("dashboard:page"));  // page scripts set themselves up
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    var form = box.form;
    if (!form || !form.hasAttribute("data-bulk")) return;
    if (box.hasAttribute("data-select-all")) {
      form.querySelectorAll(picks(form)).forEach(function (one) {
        one.checked = box.checked;
      });
    }
    updateBulk(form);
  });

  // --- the analytics page ---------------------------------------------------------------------

  function closeExplanations(except) {
    document.querySelectorAll(".explained.open").forEach(function (one) {
      if (one !== except) one.classList.remove("open");
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-explain]");
    var holder = button && button.closest(".explained");
    closeExplanations(holder);
    if (holder) {
      holder.classList.remove("dismissed");
      holder.classList.toggle("open");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".explained").forEach(function (one) {
      if (one.classList.contains("open") || one.matches(":hover, :focus-within")) {
        one.classList.remove("open");
        one.classList.add("dismissed");
      }
    });
  });

  document.addEventListener("focusout", function (event) {
    var holder = event.target.closest && event.target.closest(".explained");
    if (holder) holder.classList.remove("dismissed", "open");
  });

  document.addEventListener("mouseout", function (event) {
    var holder = event.target.closest && event.target.closest(".explained.dismissed");
    if (holder && !holder.contains(event.relatedTarget)) holder.classList.remove("dismissed");
  });

  document.addEventListener("input", function (event) {
    if (!event.target.hasAttribute || !event.target.hasAttribute("data-custom-date")) return;
    var period = event.target.form && event.target.form.querySelector("[data-period]");
    if (period) period.value = "custom";
  });

  // --- embedded in Shopify admin ---------------------------------------------------------------

  function embedded() {
    return document.documentElement.hasAttribute("data-embedded") &&
      window.shopify && typeof window.shopify.idToken === "function";
  }

  function ours(url) {
    return url.origin === location.origin && url.pathname.indexOf("/admin") === 0;
  }

  async function show(url, request, remember) {
    var headers = new Headers(request.headers || {});
    headers.set("Authorization", "Bearer " + (await window.shopify.idToken()));
    var response = await fetch(url, Object.assign({}, request, { headers: headers }));
    var page = new DOMParser().parseFromString(await response.text(), "text/html");
    document.title = page.title;
    document.body.replaceWith(document.importNode(page.body, true));
    if (remember) history.pushState(null, "", response.url);
    setUp();
    var main = document.getElementById("main");
    if (main) main.focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || !embedded() || link.target || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var url = new URL(link.href);
    if (!ours(url) || url.pathname.indexOf("/admin/static/") === 0) return;
    event.preventDefault();
    show(url.href, { method: "GET" }, true);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var url = new URL(form.action, location.href);
    if (!embedded() || !ours(url)) return;
    event.preventDefault();
    var data = new URLSearchParams(new FormData(form, event.submitter));
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      url.search = data.toString();
      show(url.href, { method: "GET" }, true);
    } else {
      show(url.href, { method: "POST", body: data }, true);
    }
  });

  window.addEventListener("popstate", function () {
    if (embedded()) show(location.href, { method: "GET" }, false);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
