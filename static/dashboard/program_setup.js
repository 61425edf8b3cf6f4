// The program setup form (templates/dashboard/program_form.html). Without this script it is one
// long form that works; with it:
// - one step at a time, with Back / Next and a list of the steps;
// - only the inputs the chosen kind of program and reward need (the tables come from the
//   server on the form: data-parts, data-advocate-kinds, data-reward-inputs);
// - a live preview: the form is posted, debounced, to data-preview-url, which answers the
//   shopper pages rendered for the draft (shown in sandboxed iframes), or its errors.
// Inside Shopify admin the preview request carries the session token like every other request.
// Other forms with reward inputs (<form data-reward-form data-reward-inputs>, the A/B test form)
// get the same shown inputs per reward kind, and nothing else.
(function () {
  "use strict";

  var DELAY = 350;
  var timer = null;
  var generation = 0;

  function table(form, name) {
    return JSON.parse(form.getAttribute(name) || "{}");
  }

  function programKind(form) {
    var chosen = form.querySelector("input[name=kind]:checked");
    return chosen ? chosen.value : "";
  }

  function firstVisible(select) {
    var options = Array.prototype.filter.call(select.options, function (option) {
      return !option.hidden;
    });
    return options.length ? options[0].value : "";
  }

  function showRewardInputs(fieldset) {
    var form = fieldset.form;
    var prefix = fieldset.getAttribute("data-reward");
    var kind = form.elements[prefix + ".kind"].value;
    var byBasis = table(form, "data-reward-inputs")[kind] || {};
    var basis = form.elements[prefix + ".basis"].value;
    var wanted = byBasis[basis] || byBasis.fixed || [];
    fieldset.querySelectorAll(":scope > [data-input]").forEach(function (field) {
      field.hidden = wanted.indexOf(field.getAttribute("data-input")) < 0;
    });
    fieldset.querySelectorAll("[data-reward-kinds]").forEach(function (hint) {
      hint.hidden = hint.getAttribute("data-reward-kinds").split(" ").indexOf(kind) < 0;
    });
  }

  function showParts(form) {
    var kind = programKind(form);
    var parts = table(form, "data-parts")[kind] || {};
    var only = table(form, "data-advocate-kinds")[kind];
    form.querySelectorAll("[data-part]").forEach(function (part) {
      part.hidden = !(part.getAttribute("data-part") in parts);
    });
    form.querySelectorAll("[data-part-none]").forEach(function (note) {
      note.hidden = Object.keys(parts).length > 0;
    });
    ["advocate_reward", "friend_reward"].forEach(function (side) {
      var select = form.elements[side + ".kind"];
      Array.prototype.forEach.call(select.options, function (option) {
        if (option.value === "") option.hidden = parts[side] !== "optional";
        else option.hidden = side === "advocate_reward" && !!only && only.indexOf(option.value) < 0;
      });
      if (select.selectedOptions[0] && select.selectedOptions[0].hidden) {
        select.value = firstVisible(select);
      }
    });
    form.querySelectorAll("[data-reward]").forEach(showRewardInputs);
  }

  // --- steps -----------------------------------------------------------------------------------

  function steps(form) {
    return Array.prototype.slice.call(form.querySelectorAll("section.step"));
  }

  function go(form, index, focus) {
    var all = steps(form);
    all.forEach(function (step, at) {
      step.hidden = at !== index;
    });
    form.querySelectorAll("[data-step-list] button").forEach(function (button, at) {
      if (at === index) button.setAttribute("aria-current", "step");
      else button.removeAttribute("aria-current");
    });
    form.querySelector("[data-back]").hidden = index === 0;
    form.querySelector("[data-next]").hidden = index === all.length - 1;
    form.setAttribute("data-step-index", String(index));
    showQuickLaunch(form);
    if (focus) {
      var title = all[index].querySelector("h2");
      title.setAttribute("tabindex", "-1");
      title.focus();
    }
  }

  // "Launch this program now" describes the suggested settings: it goes once they change.
  function showQuickLaunch(form) {
    var first = form.getAttribute("data-step-index") === "0";
    form.querySelectorAll(".quick").forEach(function (quick) {
      quick.hidden = !first || form.hasAttribute("data-edited");
    });
  }

  function stepOf(form, element) {
    return steps(form).findIndex(function (step) {
      return step.contains(element);
    });
  }

  function setUpSteps(form) {
    var list = form.querySelector("[data-step-list]");
    list.textContent = "";
    steps(form).forEach(function (step, index) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = (index + 1) + ". " + step.getAttribute("data-step");
      button.addEventListener("click", function () {
        go(form, index, true);
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    list.hidden = false;
    form.querySelector("[data-step-nav]").hidden = false;
    form.querySelector("[data-back]").addEventListener("click", function () {
      go(form, Number(form.getAttribute("data-step-index")) - 1, true);
    });
    form.querySelector("[data-next]").addEventListener("click", function () {
      go(form, Number(form.getAttribute("data-step-index")) + 1, true);
    });
    var invalid = form.querySelector("[aria-invalid=true], .field-error");
    go(form, invalid ? Math.max(0, stepOf(form, invalid)) : 0, false);
  }

  // --- the preview -----------------------------------------------------------------------------

  function embedded() {
    return document.documentElement.hasAttribute("data-embedded") &&
      window.shopify && typeof window.shopify.idToken === "function";
  }

  function showPreview(form, answer) {
    var aside = document.querySelector(".preview");
    var errors = aside.querySelector("[data-preview-errors]");
    var pages = aside.querySelector("[data-preview-pages]");
    aside.querySelector("[data-preview-status]").textContent = answer.valid ? "" :
      "The preview shows once the program is valid.";
    errors.hidden = answer.valid;
    pages.hidden = !answer.valid;
    if (!answer.valid) {
      errors.innerHTML = answer.errors_html;
      return;
    }
    aside.querySelector("[data-advocate-frame]").srcdoc = answer.advocate_html;
    var friend = aside.querySelector("[data-friend-frame]");
    friend.hidden = !answer.friend_html;
    friend.srcdoc = answer.friend_html || "";
    aside.querySelector("[data-friend-note]").innerHTML = answer.friend_note;
    form.querySelectorAll("[data-offer]").forEach(function (offer) {
      offer.textContent = answer.offer;
    });
    form.querySelectorAll("[data-summary]").forEach(function (summary) {
      summary.innerHTML = answer.summary_html;
    });
  }

  async function refresh(form) {
    var mine = ++generation;
    var headers = new Headers();
    if (embedded()) headers.set("Authorization", "Bearer " + (await window.shopify.idToken()));
    var status = document.querySelector("[data-preview-status]");
    try {
      var response = await fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: new URLSearchParams(new FormData(form)), headers: headers,
        credentials: "same-origin"
      });
      var answer = await response.json();
      if (mine === generation) showPreview(form, answer);
    } catch (error) {
      if (mine === generation) status.textContent = "The preview could not be updated. Reload the page to try again.";
    }
  }

  function schedule(form) {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      refresh(form);
    }, DELAY);
  }

  // --- wiring ----------------------------------------------------------------------------------

  function enhance(form) {
    if (form.hasAttribute("data-enhanced")) return;
    form.setAttribute("data-enhanced", "");
    form.classList.add("wizard");
    form.querySelectorAll("[data-unscripted]").forEach(function (note) {
      note.hidden = true;
    });
    showParts(form);
    setUpSteps(form);
  }

  function setUp() {
    document.querySelectorAll("form[data-program-setup]").forEach(enhance);
    document.querySelectorAll("form[data-reward-form]").forEach(function (form) {
      form.querySelectorAll("[data-reward]").forEach(showRewardInputs);
    });
  }

  function changed(event) {
    var form = event.target.form;
    var name = event.target.name || "";
    if (form && form.hasAttribute("data-reward-form") && /\.(kind|basis)$/.test(name)) {
      showRewardInputs(event.target.closest("[data-reward]"));
    }
    if (!form || !form.hasAttribute("data-program-setup")) return;
    form.setAttribute("data-edited", "");
    showQuickLaunch(form);
    if (name === "kind") showParts(form);
    if (/\.(kind|basis)$/.test(name)) showRewardInputs(event.target.closest("[data-reward]"));
    schedule(form);
  }

  document.addEventListener("input", changed);
  document.addEventListener("change", changed);

  // A link of the error summary opens the step of the input it names.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#form-errors a[href^='#']");
    var form = document.querySelector("form[data-program-setup][data-enhanced]");
    if (!link || !form) return;
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    go(form, Math.max(0, stepOf(form, target)), false);
    target.focus();
  });

  document.addEventListener("dashboard:page", setUp);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
