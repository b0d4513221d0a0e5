/* The Markdown editor: toolbar, word count, live preview and an unsaved-changes warning.
 *
 * Progressive enhancement only: without this script the form is a plain textarea with a
 * "Preview" submit button that renders on the server. The preview HTML always comes from
 * the server's sanitiser (POST /documents/preview); nothing is rendered here.
 * Every visible text comes from the page (data-* attributes), so it is translated there.
 */
(function () {
  "use strict";

  var PREVIEW_DELAY_MS = 400;
  var COUNT_DELAY_MS = 250;

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, wait);
    };
  }

  function throttle(fn, wait) {
    var pending = false;
    return function () {
      if (pending) return;
      pending = true;
      window.setTimeout(function () { pending = false; fn(); }, wait);
    };
  }

  /* Replace the selection with `text`, then select [selectFrom, selectTo) within it. */
  function replaceSelection(textarea, text, selectFrom, selectTo) {
    var start = textarea.selectionStart;
    textarea.focus();
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    var done = false;
    try { done = document.execCommand("insertText", false, text); } catch (e) { done = false; }
    if (!done || textarea.value.substr(start, text.length) !== text) {
      textarea.setRangeText(text, start, textarea.selectionEnd, "end");
    }
    textarea.setSelectionRange(start + selectFrom, start + selectTo);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /* Extend the selection to whole lines and return their text. */
  function selectLines(textarea) {
    var value = textarea.value;
    var from = textarea.selectionStart;
    var to = textarea.selectionEnd;
    if (to > from && value.charAt(to - 1) === "\n") to -= 1;  // a selection ending a line
    var start = from === 0 ? 0 : value.lastIndexOf("\n", from - 1) + 1;
    var end = value.indexOf("\n", to);
    if (end === -1) end = value.length;
    textarea.setSelectionRange(start, end);
    return value.slice(start, end);
  }

  function prefixLines(textarea, prefixFor) {
    var lines = selectLines(textarea).split("\n");
    var text = lines.map(function (line, i) { return prefixFor(i) + line; }).join("\n");
    replaceSelection(textarea, text, text.length, text.length);
  }

  function wrap(textarea, marker) {
    var selected = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd);
    var text = marker + selected + marker;
    replaceSelection(textarea, text, marker.length, marker.length + selected.length);
  }

  /* Add a block (a table) after the current line, with a blank line before and after;
     the selection is kept, never replaced. */
  function insertBlock(textarea, block) {
    var lineEnd = textarea.value.indexOf("\n", textarea.selectionEnd);
    if (lineEnd === -1) lineEnd = textarea.value.length;
    textarea.setSelectionRange(lineEnd, lineEnd);
    var before = textarea.value.slice(0, lineEnd);
    var lead = before === "" ? "" : before.slice(-2) === "\n\n" ? "" : before.slice(-1) === "\n" ? "\n" : "\n\n";
    var text = lead + block + "\n";
    replaceSelection(textarea, text, lead.length, lead.length + block.length);
  }

  var ACTIONS = {
    heading: function (textarea) {
      prefixLines(textarea, function () { return "## "; });
    },
    bold: function (textarea) { wrap(textarea, "**"); },
    italic: function (textarea) { wrap(textarea, "*"); },
    bullets: function (textarea) {
      prefixLines(textarea, function () { return "- "; });
    },
    numbers: function (textarea) {
      prefixLines(textarea, function (i) { return (i + 1) + ". "; });
    },
    link: function (textarea, button) {
      var selected = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd);
      var label = selected || button.getAttribute("data-text") || "link";
      var text = "[" + label + "](https://)";
      // Select the address so the author types it straight away.
      var at = label.length + 3;
      replaceSelection(textarea, text, at, at + "https://".length);
    },
    table: function (textarea, button) {
      var h1 = button.getAttribute("data-heading-1") || "Column 1";
      var h2 = button.getAttribute("data-heading-2") || "Column 2";
      var cell = button.getAttribute("data-text") || "Text";
      insertBlock(textarea, "| " + h1 + " | " + h2 + " |\n| --- | --- |\n| " + cell + " | " + cell + " |");
    }
  };

  /* A toolbar is one tab stop; arrow keys, Home and End move between its buttons. */
  function setUpToolbar(toolbar, textarea) {
    var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button[data-action]"));
    buttons.forEach(function (button, i) {
      button.tabIndex = i === 0 ? 0 : -1;
      button.addEventListener("click", function () {
        var action = ACTIONS[button.getAttribute("data-action")];
        if (action) action(textarea, button);
      });
    });
    toolbar.addEventListener("keydown", function (event) {
      var index = buttons.indexOf(document.activeElement);
      if (index === -1) return;
      var next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      next = (next + buttons.length) % buttons.length;
      buttons[index].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    });
    toolbar.hidden = false;
  }

  function setUpWordCount(counter, textarea) {
    var one = counter.getAttribute("data-one") || "1 word";
    var many = counter.getAttribute("data-many") || "{n} words";
    function update() {
      var words = textarea.value.trim() === "" ? 0 : textarea.value.trim().split(/\s+/).length;
      counter.textContent = words === 1 ? one : many.replace("{n}", String(words));
    }
    update();
    counter.hidden = false;
    textarea.addEventListener("input", throttle(update, COUNT_DELAY_MS));
  }

  function setUpPreview(form, region, textarea) {
    var body = document.getElementById("markdown-preview-body");
    var url = form.getAttribute("data-preview-url");
    var tokenField = form.querySelector("input[name='csrf_token']");
    if (!body || !url || !tokenField || !window.fetch) return;
    var latest = 0;
    var controller = null;

    function showMessage(text) {
      body.textContent = "";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = text;
      body.appendChild(p);
      region.hidden = false;  // the region starts hidden: a first failure must still show
    }

    function refresh() {
      var ticket = ++latest;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      window.fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": tokenField.value },
        body: JSON.stringify({ source: textarea.value }),
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (ticket !== latest) return null;
        if (response.status === 413) {
          showMessage(region.getAttribute("data-too-long"));
          return null;
        }
        if (!response.ok) throw new Error("preview " + response.status);
        return response.json();
      }).then(function (data) {
        if (!data || ticket !== latest) return;
        // Sanitised by the server (portal/markdown.py), exactly as it will be stored.
        body.innerHTML = data.html;
        region.hidden = false;
      }).catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (ticket === latest) showMessage(region.getAttribute("data-failed"));
      });
    }

    textarea.addEventListener("input", debounce(refresh, PREVIEW_DELAY_MS));
    if (textarea.value.trim() !== "") refresh();
  }

  /* Warn before leaving with unsaved changes; submitting the form is not leaving them. */
  function setUpUnsavedWarning(form) {
    var dirty = false;
    function mark() { dirty = true; }
    form.addEventListener("input", mark);
    form.addEventListener("change", mark);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return undefined;
      event.preventDefault();
      event.returnValue = "";  // older browsers need a value to show their own warning
      return "";
    });
  }

  function start() {
    var form = document.querySelector("form[data-editor]");
    if (!form) return;
    var textarea = form.querySelector("textarea#source");
    if (!textarea) return;
    var toolbar = document.getElementById("editor-toolbar");
    var counter = document.getElementById("word-count");
    var region = document.getElementById("markdown-preview");
    if (toolbar) setUpToolbar(toolbar, textarea);
    if (counter) setUpWordCount(counter, textarea);
    if (region) setUpPreview(form, region, textarea);
    setUpUnsavedWarning(form);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
