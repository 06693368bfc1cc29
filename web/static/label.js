// Glossa's labeling page: what an HTML form cannot do by itself. Spans of
// text (mouse selection or the keyboard, then a label or its hotkey),
// boxes on images (draw, move, resize), Label Studio's hotkeys, drafts
// saved as one works, and Submit / Update / Skip / review through the JSON
// API with the session's CSRF token.
//
// The page is rendered by the server (web/templates/label.html); this
// script reads its data from the JSON block #label-data and the data-
// attributes of the controls. It writes task data into the page only as
// text (textContent), never as HTML, and builds results in Label Studio's
// shape: spans in Unicode code points (not JavaScript's UTF-16 units),
// boxes in percent of the image with original_width/height.
(function () {
  "use strict";

  var app = document.getElementById("label-app");
  var dataEl = document.getElementById("label-data");
  if (!app || !dataEl) { return; }
  var page = JSON.parse(dataEl.textContent);
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var loadedAt = Date.now();
  var palette = ["#2454c5", "#c52454", "#1f9d55", "#c58a24", "#7a24c5", "#1f8fb0", "#b0541f", "#5b6475"];

  // The work: regions (spans and boxes, with their per-region answers in
  // extra), per-task answers, and result items this page does not edit,
  // which are kept as they came.
  var regions = [];
  var answers = {};
  var answerIds = {};
  var kept = [];
  var selected = null;
  var pendingText = null;
  var activeLabel = {};
  var editable = !!page.can_edit;

  var controls = {};
  app.querySelectorAll(".lbl-control").forEach(function (el) {
    var c = {
      el: el, name: el.dataset.control, tag: el.dataset.tag, type: el.dataset.type, to: el.dataset.to,
      choice: el.dataset.choice, perRegion: el.dataset.perRegion === "true"
    };
    c.unsupported = !el.querySelector(".lbl-labels, .lbl-choices, .lbl-textarea, .lbl-rating");
    c.isRegion = c.tag === "Labels" || c.tag === "RectangleLabels";
    controls[c.name] = c;
  });
  var objects = {};
  app.querySelectorAll("[data-object]").forEach(function (el) {
    var kind = el.classList.contains("lbl-text") ? "text" : el.classList.contains("lbl-image") ? "image" : "html";
    objects[el.dataset.object] = { el: el, name: el.dataset.object, kind: kind };
  });

  // ---- Small helpers.

  function uid() {
    var abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    var bytes = new Uint8Array(10);
    window.crypto.getRandomValues(bytes);
    var s = "";
    bytes.forEach(function (b) { s += abc[b & 63]; });
    return s;
  }
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function round(v) { return Math.round(v * 10000) / 10000; }
  function each(list, f) { Array.prototype.forEach.call(list, f); }
  function byId(id) { return document.getElementById(id); }

  // Code points and UTF-16 units: Label Studio counts span offsets in code
  // points, the DOM in UTF-16 units; astral characters (emoji) differ.
  function step(text, i) {
    var c = text.charCodeAt(i);
    return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  function unitsOf(text, points) {
    var i = 0;
    for (var n = 0; n < points && i < text.length; n++) { i += step(text, i); }
    return i;
  }
  function pointsOf(text, units) {
    var n = 0;
    for (var i = 0; i < units && i < text.length; n++) { i += step(text, i); }
    return n;
  }

  function labelButtons(c) { return c.el.querySelectorAll(".lbl-label"); }
  var colors = {};
  function colorOf(controlName, value) {
    var key = controlName + "\u0000" + value;
    if (!colors[key]) {
      var c = controls[controlName];
      var color = palette[0];
      if (c) {
        each(labelButtons(c), function (b, i) {
          if (b.dataset.value === value) { color = b.dataset.color || palette[i % palette.length]; }
        });
      }
      colors[key] = color;
    }
    return colors[key];
  }
  function tint(color, percent) {
    return "color-mix(in srgb, " + color + " " + percent + "%, transparent)";
  }

  function status(id, text, kind) {
    var el = byId(id);
    if (!el) { return; }
    el.textContent = text;
    if (el.classList.contains("result")) { el.className = "result " + (kind || ""); }
  }

  // ---- The result, to and from Label Studio's shape.

  function listOf(v) { return Array.isArray(v) ? v.slice() : []; }

  function answerOf(c, value) {
    value = value || {};
    if (c.tag === "Choices") { return listOf(value.choices); }
    if (c.tag === "TextArea") { return listOf(value.text); }
    if (c.tag === "Rating") { return typeof value.rating === "number" ? value.rating : null; }
    return null;
  }
  function answerValue(c, a) {
    if (c.tag === "Choices") { return a && a.length ? { choices: a.slice() } : null; }
    if (c.tag === "TextArea") { return a && a.length && a.join("").trim() !== "" ? { text: a.slice() } : null; }
    if (c.tag === "Rating") { return a ? { rating: a } : null; }
    return null;
  }

  function regionFrom(item, c) {
    var v = item.value || {};
    var r = { id: item.id || uid(), from: c.name, to: c.to, type: c.type, extra: {}, origin: item.origin || "manual" };
    if (c.tag === "Labels") {
      r.start = v.start; r.end = v.end; r.text = v.text; r.labels = listOf(v.labels);
    } else {
      r.x = v.x || 0; r.y = v.y || 0; r.width = v.width || 0; r.height = v.height || 0; r.rotation = v.rotation || 0;
      r.labels = listOf(v.rectanglelabels);
    }
    return r;
  }
  function regionValue(r) {
    if (r.type === "labels") {
      return { start: r.start, end: r.end, text: r.text, labels: r.labels.slice() };
    }
    return { x: round(r.x), y: round(r.y), width: round(r.width), height: round(r.height), rotation: r.rotation || 0, rectanglelabels: r.labels.slice() };
  }
  function imageSize(name) {
    var o = objects[name];
    var img = o && o.el.querySelector("img");
    return img && img.naturalWidth ? { w: img.naturalWidth, h: img.naturalHeight } : null;
  }
  function itemOf(r, from, type, value) {
    var item = { id: r.id, from_name: from, to_name: r.to, type: type, origin: r.origin, value: value };
    if (r.type === "rectanglelabels") {
      var size = imageSize(r.to);
      if (size) { item.original_width = size.w; item.original_height = size.h; }
      item.image_rotation = 0;
    }
    return item;
  }

  function result() {
    var out = [];
    regions.forEach(function (r) {
      out.push(itemOf(r, r.from, r.type, regionValue(r)));
      Object.keys(r.extra).forEach(function (name) {
        var c = controls[name];
        var v = c && answerValue(c, r.extra[name]);
        if (!v) { return; }
        var value = regionValue(r);
        delete value.labels;
        delete value.rectanglelabels;
        Object.keys(v).forEach(function (k) { value[k] = v[k]; });
        out.push(itemOf(r, name, c.type, value));
      });
    });
    Object.keys(answers).forEach(function (name) {
      var c = controls[name];
      var v = answerValue(c, answers[name]);
      if (!v) { return; }
      if (!answerIds[name]) { answerIds[name] = uid(); }
      out.push({ id: answerIds[name], from_name: name, to_name: c.to, type: c.type, origin: "manual", value: v });
    });
    return out.concat(kept);
  }

  function load(list, origin) {
    regions = []; answers = {}; answerIds = {}; kept = []; selected = null; pendingText = null;
    var perRegion = [];
    (Array.isArray(list) ? list : []).forEach(function (item) {
      var c = item && controls[item.from_name];
      if (!c || c.unsupported || item.to_name !== c.to || item.type !== c.type) {
        kept.push(item);
      } else if (c.isRegion) {
        var r = regionFrom(item, c);
        if (origin) { r.origin = origin; }
        regions.push(r);
      } else if (c.perRegion) {
        perRegion.push(item);
      } else {
        answers[c.name] = answerOf(c, item.value);
        answerIds[c.name] = item.id;
      }
    });
    perRegion.forEach(function (item) {
      var r = find(item.id);
      if (r) { r.extra[item.from_name] = answerOf(controls[item.from_name], item.value); } else { kept.push(item); }
    });
    syncAnswers();
    render();
  }

  function find(id) {
    for (var i = 0; i < regions.length; i++) { if (regions[i].id === id) { return regions[i]; } }
    return null;
  }

  // ---- Rendering.

  function render() {
    Object.keys(objects).forEach(function (name) {
      var o = objects[name];
      if (o.kind === "text") { renderText(o); }
      if (o.kind === "image") { renderBoxes(o); }
    });
    renderRegionList();
    syncRegionAnswers();
    syncLabelButtons();
  }

  function renderText(o) {
    var text = page.texts[o.name] || "";
    var spans = [];
    regions.forEach(function (r) {
      if (r.to === o.name && r.type === "labels") {
        spans.push({ r: r, s: unitsOf(text, r.start), e: unitsOf(text, r.end) });
      }
    });
    var cuts = [0, text.length];
    spans.forEach(function (x) { cuts.push(x.s, x.e); });
    cuts = cuts.filter(function (v, i, a) { return v >= 0 && v <= text.length && a.indexOf(v) === i; }).sort(function (a, b) { return a - b; });
    var frag = document.createDocumentFragment();
    for (var i = 0; i + 1 < cuts.length; i++) {
      var a = cuts[i], b = cuts[i + 1];
      var covering = spans.filter(function (x) { return x.s <= a && x.e >= b; });
      if (!covering.length) {
        frag.appendChild(document.createTextNode(text.slice(a, b)));
        continue;
      }
      covering.sort(function (x, y) { return (x.e - x.s) - (y.e - y.s); });
      var top = covering[0].r;
      var el = document.createElement("span");
      el.className = "lbl-span";
      el.textContent = text.slice(a, b);
      el.dataset.region = top.id;
      var color = colorOf(top.from, top.labels[0]);
      el.style.backgroundColor = tint(color, 30);
      el.style.borderBottomColor = color;
      el.title = covering.map(function (x) { return x.r.labels.join(", "); }).join(" / ");
      if (covering.some(function (x) { return x.r.id === selected; })) { el.classList.add("selected"); }
      frag.appendChild(el);
    }
    o.el.textContent = "";
    o.el.appendChild(frag);
  }

  var svgNS = "http://www.w3.org/2000/svg";
  function svgRect(x, y, w, h, cls) {
    var el = document.createElementNS(svgNS, "rect");
    el.setAttribute("x", x); el.setAttribute("y", y);
    el.setAttribute("width", w); el.setAttribute("height", h);
    el.setAttribute("class", cls);
    return el;
  }

  function renderBoxes(o) {
    var svg = o.el.querySelector("svg");
    var stage = o.el.querySelector(".lbl-stage");
    if (!svg) { return; }
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    each(stage.querySelectorAll(".lbl-box-label"), function (el) { el.remove(); });
    var box = svg.getBoundingClientRect();
    var hx = box.width ? 9 / box.width * 100 : 1.5, hy = box.height ? 9 / box.height * 100 : 1.5;
    regions.forEach(function (r) {
      if (r.to !== o.name || r.type !== "rectanglelabels") { return; }
      var color = colorOf(r.from, r.labels[0]);
      var rect = svgRect(r.x, r.y, r.width, r.height, "lbl-box" + (r.id === selected ? " selected" : ""));
      rect.setAttribute("stroke", color);
      rect.setAttribute("fill", color);
      rect.dataset.region = r.id;
      svg.appendChild(rect);
      var tag = document.createElement("div");
      tag.className = "lbl-box-label";
      tag.textContent = r.labels.join(", ");
      tag.style.left = r.x + "%";
      tag.style.top = r.y + "%";
      tag.style.backgroundColor = color;
      stage.appendChild(tag);
      if (r.id !== selected || !editable) { return; }
      [["nw", r.x, r.y], ["ne", r.x + r.width, r.y], ["sw", r.x, r.y + r.height], ["se", r.x + r.width, r.y + r.height]].forEach(function (h) {
        var handle = svgRect(h[1] - hx / 2, h[2] - hy / 2, hx, hy, "lbl-handle " + h[0]);
        handle.dataset.handle = h[0];
        handle.dataset.region = r.id;
        svg.appendChild(handle);
      });
    });
  }

  function describe(r) {
    if (r.type === "labels") {
      var t = r.text || "";
      return t.length > 40 ? t.slice(0, 40) + "…" : t;
    }
    return "box at " + Math.round(r.x) + "%, " + Math.round(r.y) + "% (" + Math.round(r.width) + "×" + Math.round(r.height) + "%)";
  }

  function renderRegionList() {
    var list = byId("regions");
    if (!list) { return; }
    list.textContent = "";
    regions.forEach(function (r) {
      var li = document.createElement("li");
      li.dataset.region = r.id;
      if (r.id === selected) { li.className = "selected"; }
      var pick = document.createElement("button");
      pick.type = "button";
      pick.className = "link region-pick";
      var label = document.createElement("strong");
      label.textContent = r.labels.join(", ");
      label.style.color = colorOf(r.from, r.labels[0]);
      pick.appendChild(label);
      pick.appendChild(document.createTextNode(" " + describe(r)));
      pick.addEventListener("click", function () { select(r.id === selected ? null : r.id); });
      li.appendChild(pick);
      if (editable) {
        var del = document.createElement("button");
        del.type = "button";
        del.className = "link region-delete";
        del.textContent = "Delete";
        del.setAttribute("aria-label", "Delete region " + r.labels.join(", "));
        del.addEventListener("click", function () { removeRegion(r.id); });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(del);
      }
      list.appendChild(li);
    });
    var empty = byId("regions-empty");
    if (empty) { empty.hidden = regions.length > 0; }
  }

  function syncLabelButtons() {
    Object.keys(controls).forEach(function (name) {
      var c = controls[name];
      if (!c.isRegion) { return; }
      each(labelButtons(c), function (b) {
        b.setAttribute("aria-pressed", activeLabel[name] === b.dataset.value ? "true" : "false");
      });
    });
  }

  // Per-task answers: the form shows answers (after a load).
  function syncAnswers() {
    Object.keys(controls).forEach(function (name) {
      var c = controls[name];
      if (!c.isRegion && !c.perRegion && !c.unsupported) { showAnswer(c, answers[name]); }
    });
  }
  // Per-region answers follow the selected region; they are disabled
  // without one (of the object they label).
  function syncRegionAnswers() {
    var r = selected && find(selected);
    Object.keys(controls).forEach(function (name) {
      var c = controls[name];
      if (!c.perRegion || c.isRegion || c.unsupported) { return; }
      var on = !!r && r.to === c.to && editable;
      each(c.el.querySelectorAll("input, textarea"), function (el) { el.disabled = !on; });
      showAnswer(c, r && r.to === c.to ? r.extra[name] : null);
    });
  }
  function showAnswer(c, a) {
    if (c.tag === "Choices") {
      each(c.el.querySelectorAll("input"), function (el) { el.checked = !!a && a.indexOf(el.value) >= 0; });
    } else if (c.tag === "TextArea") {
      var ta = c.el.querySelector("textarea");
      var v = a ? a.join("\n") : "";
      if (ta.value !== v) { ta.value = v; }
    } else if (c.tag === "Rating") {
      each(c.el.querySelectorAll("input"), function (el) { el.checked = a === Number(el.value); });
    }
  }
  function readAnswer(c) {
    if (c.tag === "Choices") {
      var out = [];
      each(c.el.querySelectorAll("input"), function (el) { if (el.checked) { out.push(el.value); } });
      return out;
    }
    if (c.tag === "TextArea") {
      var v = c.el.querySelector("textarea").value;
      return v.trim() === "" ? [] : [v];
    }
    var n = null;
    each(c.el.querySelectorAll("input"), function (el) { if (el.checked) { n = Number(el.value); } });
    return n;
  }

  // ---- Editing.

  function changed() {
    render();
    scheduleDraft();
  }

  function touch(r) {
    if (r.origin === "prediction") { r.origin = "prediction-changed"; }
  }

  function select(id) {
    selected = id;
    render();
  }

  function removeRegion(id) {
    regions = regions.filter(function (r) { return r.id !== id; });
    if (selected === id) { selected = null; }
    changed();
  }

  // The Labels control that labels spans of object o with an active
  // label, if any.
  function activeControlFor(objectName, tag) {
    var names = Object.keys(controls);
    for (var i = 0; i < names.length; i++) {
      var c = controls[names[i]];
      if (c.tag === tag && c.to === objectName && activeLabel[c.name]) { return c; }
    }
    return null;
  }

  function addSpan(c, label) {
    var text = page.texts[pendingText.object] || "";
    var r = {
      id: uid(), from: c.name, to: c.to, type: "labels", extra: {}, origin: "manual",
      start: pendingText.start, end: pendingText.end, labels: [label],
      text: text.slice(unitsOf(text, pendingText.start), unitsOf(text, pendingText.end))
    };
    regions.push(r);
    pendingText = null;
    window.getSelection().removeAllRanges();
    status("save-status", "");
    changed();
  }

  function labelClicked(c, value) {
    if (!editable) { return; }
    if (c.tag === "Labels" && pendingText && pendingText.object === c.to) {
      addSpan(c, value);
      return;
    }
    var r = selected && find(selected);
    if (r && r.from === c.name) {
      // A label chosen while a region of this control is selected
      // relabels it.
      if (c.choice === "multiple") {
        var i = r.labels.indexOf(value);
        if (i >= 0 && r.labels.length > 1) { r.labels.splice(i, 1); } else if (i < 0) { r.labels.push(value); }
      } else {
        r.labels = [value];
      }
      touch(r);
      changed();
      return;
    }
    activeLabel[c.name] = activeLabel[c.name] === value ? null : value;
    syncLabelButtons();
    status("save-status", activeLabel[c.name] ? (c.tag === "Labels" ? "Now select text to label it " : "Now drag on the image to draw a box labelled ") + value + "." : "");
  }

  Object.keys(controls).forEach(function (name) {
    var c = controls[name];
    if (c.unsupported) { return; }
    if (c.isRegion) {
      each(labelButtons(c), function (b, i) {
        b.style.setProperty("--label", b.dataset.color || palette[i % palette.length]);
        b.addEventListener("click", function () { labelClicked(c, b.dataset.value); });
      });
      return;
    }
    c.el.addEventListener("input", function () { answerChanged(c); });
    c.el.addEventListener("change", function () { answerChanged(c); });
  });

  function answerChanged(c) {
    if (!editable) { return; }
    var a = readAnswer(c);
    if (c.perRegion) {
      var r = selected && find(selected);
      if (!r || r.to !== c.to) { return; }
      r.extra[c.name] = a;
      touch(r);
    } else {
      answers[c.name] = a;
    }
    scheduleDraft();
  }

  // ---- Text: spans by mouse and keyboard.

  // offsetIn is the UTF-16 offset of a DOM point within a text object:
  // the length of the text before it.
  function offsetIn(root, node, offset) {
    var range = document.createRange();
    range.setStart(root, 0);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function takeSelection(o, label) {
    var sel = window.getSelection();
    if (!sel.rangeCount || sel.isCollapsed) { pendingText = null; return; }
    var range = sel.getRangeAt(0);
    if (!o.el.contains(range.startContainer) || !o.el.contains(range.endContainer)) { return; }
    var text = page.texts[o.name] || "";
    var s = offsetIn(o.el, range.startContainer, range.startOffset);
    var e = offsetIn(o.el, range.endContainer, range.endOffset);
    if (e <= s) { pendingText = null; return; }
    pendingText = { object: o.name, start: pointsOf(text, s), end: pointsOf(text, e) };
    var c = label && activeControlFor(o.name, "Labels");
    if (c) {
      addSpan(c, activeLabel[c.name]);
    } else {
      status("save-status", "Now choose a label for the selected text (click it or press its key).");
    }
  }

  Object.keys(objects).forEach(function (name) {
    var o = objects[name];
    if (o.kind !== "text") { return; }
    o.el.addEventListener("mouseup", function (e) {
      if (!editable) { return; }
      var sel = window.getSelection();
      if (sel.isCollapsed) {
        // A click on a span selects its region.
        var span = e.target.closest && e.target.closest(".lbl-span");
        if (span) { select(span.dataset.region === selected ? null : span.dataset.region); }
        return;
      }
      takeSelection(o, true);
    });
    // The keyboard moves a caret through the text (arrows, with Ctrl or
    // Alt by word) and selects with Shift; a label key then labels the
    // selection.
    o.el.addEventListener("keydown", function (e) {
      var dir = { ArrowRight: "forward", ArrowLeft: "backward", End: "forward", Home: "backward" }[e.key];
      if (!dir || !editable) { return; }
      var sel = window.getSelection();
      if (!sel.rangeCount || !o.el.contains(sel.anchorNode)) {
        var first = document.createRange();
        first.setStart(o.el, 0);
        first.collapse(true);
        sel.removeAllRanges();
        sel.addRange(first);
      }
      var unit = e.key === "End" || e.key === "Home" ? "lineboundary" : e.ctrlKey || e.altKey ? "word" : "character";
      sel.modify(e.shiftKey ? "extend" : "move", dir, unit);
      e.preventDefault();
      e.stopPropagation();
      takeSelection(o, false);
    });
  });

  // ---- Images: boxes drawn, moved and resized with the pointer.

  Object.keys(objects).forEach(function (name) {
    var o = objects[name];
    if (o.kind !== "image") { return; }
    var svg = o.el.querySelector("svg");
    var img = o.el.querySelector("img");
    if (!svg || !img) { return; }
    img.addEventListener("load", function () { renderBoxes(o); });
    var drag = null;
    function point(e) {
      var b = svg.getBoundingClientRect();
      return { x: clamp((e.clientX - b.left) / b.width * 100, 0, 100), y: clamp((e.clientY - b.top) / b.height * 100, 0, 100) };
    }
    svg.addEventListener("pointerdown", function (e) {
      if (!editable || e.button !== 0) { return; }
      var p = point(e);
      var t = e.target;
      var r = t.dataset && t.dataset.region ? find(t.dataset.region) : null;
      if (r && t.dataset.handle) {
        drag = { mode: "resize", handle: t.dataset.handle, r: r };
      } else if (r) {
        drag = { mode: "move", r: r, start: p, x: r.x, y: r.y };
        selected = r.id;
        render();
      } else {
        var c = activeControlFor(o.name, "RectangleLabels");
        if (!c) {
          status("save-status", "Choose a label for the box first (click it or press its key).", "bad");
          return;
        }
        selected = null;
        drag = { mode: "draw", c: c, start: p, r: null };
      }
      svg.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    svg.addEventListener("pointermove", function (e) {
      if (!drag) { return; }
      var p = point(e);
      var r = drag.r;
      if (drag.mode === "draw") {
        if (!r) {
          if (Math.abs(p.x - drag.start.x) < 0.3 && Math.abs(p.y - drag.start.y) < 0.3) { return; }
          r = drag.r = { id: uid(), from: drag.c.name, to: o.name, type: "rectanglelabels", extra: {}, origin: "manual", rotation: 0, labels: [activeLabel[drag.c.name]] };
          regions.push(r);
        }
        r.x = Math.min(drag.start.x, p.x); r.y = Math.min(drag.start.y, p.y);
        r.width = Math.abs(p.x - drag.start.x); r.height = Math.abs(p.y - drag.start.y);
      } else if (drag.mode === "move") {
        r.x = clamp(drag.x + p.x - drag.start.x, 0, 100 - r.width);
        r.y = clamp(drag.y + p.y - drag.start.y, 0, 100 - r.height);
      } else {
        var left = r.x, right = r.x + r.width, top = r.y, bottom = r.y + r.height;
        if (drag.handle.indexOf("w") >= 0) { left = p.x; } else { right = p.x; }
        if (drag.handle.indexOf("n") >= 0) { top = p.y; } else { bottom = p.y; }
        r.x = Math.min(left, right); r.width = Math.abs(right - left);
        r.y = Math.min(top, bottom); r.height = Math.abs(bottom - top);
        // Crossing the opposite edge flips the handle being dragged.
        drag.handle = (p.y < r.y + r.height / 2 ? "n" : "s") + (p.x < r.x + r.width / 2 ? "w" : "e");
      }
      drag.moved = true;
      renderBoxes(o);
    });
    function end() {
      if (!drag) { return; }
      var d = drag;
      drag = null;
      if (d.mode === "draw") {
        if (!d.r) { render(); return; }
        if (d.r.width < 0.5 || d.r.height < 0.5) {
          regions.splice(regions.indexOf(d.r), 1);
          render();
          return;
        }
        selected = d.r.id;
      } else if (d.moved) {
        touch(d.r);
      } else {
        return;
      }
      changed();
    }
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
  });
  window.addEventListener("resize", function () {
    Object.keys(objects).forEach(function (name) { if (objects[name].kind === "image") { renderBoxes(objects[name]); } });
  });

  // ---- Hotkeys, as Label Studio writes them ("1", "shift+p", "ctrl+k").

  function comboOf(e) {
    var parts = [];
    if (e.ctrlKey) { parts.push("ctrl"); }
    if (e.altKey) { parts.push("alt"); }
    if (e.shiftKey) { parts.push("shift"); }
    if (e.metaKey) { parts.push("meta"); }
    parts.push(e.key.toLowerCase());
    return parts.join("+");
  }
  function normal(hotkey) {
    var parts = hotkey.toLowerCase().split("+").map(function (s) { return s.trim(); });
    var key = parts.pop();
    var mods = ["ctrl", "alt", "shift", "meta"].filter(function (m) { return parts.indexOf(m) >= 0; });
    return mods.concat([key]).join("+");
  }
  var hotkeys = {};
  each(app.querySelectorAll("[data-hotkey]"), function (el) {
    if (el.dataset.hotkey) { hotkeys[normal(el.dataset.hotkey)] = el; }
  });

  function typing(el) {
    if (!el || !el.tagName) { return false; }
    var tag = el.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && el.type !== "checkbox" && el.type !== "radio") || el.isContentEditable;
  }

  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      var b = byId("update") || byId("submit");
      if (b && !b.disabled) { e.preventDefault(); b.click(); }
      return;
    }
    if (typing(e.target)) { return; }
    var r = selected && find(selected);
    if (e.key === "Escape") {
      pendingText = null;
      select(null);
      return;
    }
    if (r && editable && (e.key === "Delete" || e.key === "Backspace")) {
      e.preventDefault();
      removeRegion(r.id);
      return;
    }
    if (r && editable && r.type === "rectanglelabels" && e.key.indexOf("Arrow") === 0) {
      // Arrows nudge the selected box; with Shift they resize it.
      var d = e.altKey ? 0.1 : 1;
      var dx = e.key === "ArrowRight" ? d : e.key === "ArrowLeft" ? -d : 0;
      var dy = e.key === "ArrowDown" ? d : e.key === "ArrowUp" ? -d : 0;
      if (e.shiftKey) {
        r.width = clamp(r.width + dx, 0.5, 100 - r.x);
        r.height = clamp(r.height + dy, 0.5, 100 - r.y);
      } else {
        r.x = clamp(r.x + dx, 0, 100 - r.width);
        r.y = clamp(r.y + dy, 0, 100 - r.height);
      }
      touch(r);
      e.preventDefault();
      changed();
      return;
    }
    var el = hotkeys[comboOf(e)];
    if (!el || !editable) { return; }
    e.preventDefault();
    if (el.classList.contains("lbl-label")) {
      var control = controls[el.closest(".lbl-control").dataset.control];
      // A text selection made with the keyboard or mouse is labelled
      // by the key.
      if (control.tag === "Labels" && !pendingText && objects[control.to]) { takeSelection(objects[control.to], false); }
      labelClicked(control, el.dataset.value);
    } else if (!el.disabled) {
      el.checked = !el.checked; // a radio's key, pressed again, clears the choice
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // ---- Saving: drafts as one works, then Submit, Update or Skip.

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.status === 204) { return null; }
      return res.json().catch(function () { return null; }).then(function (data) {
        if (res.ok) { return data; }
        var msg = data && data.error ? data.error.message : "The server answered " + res.status + ".";
        throw new Error(msg);
      });
    });
  }

  function leadTime() {
    return Math.round(((page.lead_time || 0) + (Date.now() - loadedAt) / 1000) * 1000) / 1000;
  }
  function draftBody() {
    return { result: result(), lead_time: leadTime(), annotation: page.annotation || null };
  }

  var draftTimer = null;
  var draftSaving = Promise.resolve();
  var dirty = false;
  var submitting = false;

  function scheduleDraft() {
    if (!editable || submitting) { return; }
    dirty = true;
    status("draft-status", "Changes not saved yet…");
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 600);
  }
  function saveDraft() {
    clearTimeout(draftTimer);
    if (!dirty || submitting) { return draftSaving; }
    dirty = false;
    var body = draftBody();
    draftSaving = draftSaving.then(function () {
      if (submitting) { return null; }
      return api("PUT", "/api/tasks/" + page.task + "/draft", body).then(function () {
        status("draft-status", dirty ? "Changes not saved yet…" : "Draft saved.");
      }, function (err) {
        dirty = true;
        status("draft-status", "The draft could not be saved: " + err.message);
      });
    });
    return draftSaving;
  }
  // Leaving the page saves what is not saved yet; keepalive lets the
  // request outlive the page.
  window.addEventListener("pagehide", function () {
    if (!dirty || submitting || !editable) { return; }
    dirty = false;
    fetch("/api/tasks/" + page.task + "/draft", {
      method: "PUT", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(draftBody())
    });
  });

  function buttons(disabled) {
    ["submit", "update", "skip", "accept", "reject"].forEach(function (id) {
      var b = byId(id);
      if (b) { b.disabled = disabled; }
    });
  }

  function after(notice, annotationID) {
    if (page.after) {
      location.assign(page.after);
      return;
    }
    var q = new URLSearchParams();
    if (annotationID) { q.set("annotation", annotationID); }
    q.set("notice", notice);
    location.assign(location.pathname + "?" + q.toString());
  }

  function save(kind) {
    // A draft written after the annotation would come back as a draft of
    // new work: stop drafting, and let one in flight finish first.
    submitting = true;
    clearTimeout(draftTimer);
    buttons(true);
    status("save-status", "Saving…");
    draftSaving.then(function () {
      var body = kind === "skip" ? { result: [], was_cancelled: true, lead_time: leadTime() } : { result: result(), lead_time: leadTime() };
      return kind === "update" ?
        api("PATCH", "/api/annotations/" + page.annotation, body) :
        api("POST", "/api/tasks/" + page.task + "/annotations", body);
    }).then(function (a) {
      status("save-status", kind === "skip" ? "Skipped." : "Saved.", "ok");
      after(kind === "skip" ? "task-skipped" : "annotation-saved", a && a.id);
    }, function (err) {
      submitting = false;
      buttons(false);
      status("save-status", "Not saved: " + err.message, "bad");
    });
  }
  [["submit", "submit"], ["update", "update"], ["skip", "skip"]].forEach(function (b) {
    var el = byId(b[0]);
    if (el) { el.addEventListener("click", function () { save(b[1]); }); }
  });

  // ---- Review: accept or reject the annotation shown, with a comment.

  var panel = byId("review-panel");
  if (panel) {
    var reviewed = function (accepted) {
      var id = panel.dataset.annotation;
      buttons(true);
      status("review-status", "Saving…");
      api("POST", "/api/annotations/" + id + "/reviews", { accepted: accepted, comment: byId("review-comment").value })
        .then(function () {
          status("review-status", accepted ? "Accepted." : "Rejected.", "ok");
          after("review-saved", id);
        }, function (err) {
          buttons(false);
          status("review-status", "Not saved: " + err.message, "bad");
        });
    };
    byId("accept").addEventListener("click", function () { reviewed(true); });
    byId("reject").addEventListener("click", function () { reviewed(false); });
  }

  // ---- Predictions: start from another model's pre-annotation.

  var usePrediction = byId("use-prediction");
  if (usePrediction) {
    usePrediction.addEventListener("click", function () {
      var p = page.predictions[Number(byId("prediction-select").value)];
      if (p) {
        load(p.result, "prediction");
        scheduleDraft();
      }
    });
  }

  if (!editable) {
    each(app.querySelectorAll(".label-work input, .label-work textarea, .label-work button"), function (el) { el.disabled = true; });
  }
  load(page.start, page.start_from === "prediction" ? "prediction" : "");
  app.dataset.ready = "true"; // for tests: the page is live
})();
