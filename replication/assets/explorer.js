// The pipeline explorer of replication/explorer.py. Reads the JSON embedded in each <div class="aex"> and draws,
// with plain DOM and SVG (no library, no network): user and model pickers, the architecture to scale (stage
// heights proportional to log10 of their widths; hover previews a stage, click or the step buttons select it), the
// selected stage's values, the films that went in and the top-k films the decoder fills in.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function make(tag, attrs, parent, text) {
    var node = tag.indexOf("svg:") === 0 ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function decode(stage) {  // the vector of one stage: exact numbers, or 8-bit codes between lo and hi
    if (stage.values) return stage.values;
    var raw = atob(stage.bytes), out = new Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = stage.lo + (raw.charCodeAt(i) / 255) * (stage.hi - stage.lo);
    return out;
  }

  function fmt(v) {
    if (v === 0) return "0";
    var a = Math.abs(v);
    return a >= 1000 ? v.toFixed(0) : a < 0.001 ? v.toExponential(2) : v.toPrecision(3);
  }

  function init(root) {
    root.setAttribute("data-ready", "1");
    var data = JSON.parse(root.querySelector("script.aex-data").textContent);
    var state = {user: 0, model: 0, stage: 0, hover: null};

    var controls = make("div", {"class": "aex-controls"}, root);
    var userLabel = make("label", {}, controls, "User ");
    var userPick = make("select", {"class": "aex-user"}, userLabel);
    data.users.forEach(function (u, i) { make("option", {value: i}, userPick, u.label); });
    var modelLabel = make("label", {}, controls, "Model ");
    var modelPick = make("select", {"class": "aex-model"}, modelLabel);
    data.models.forEach(function (m, i) { make("option", {value: i}, modelPick, m.name); });
    var prev = make("button", {"class": "aex-prev", type: "button"}, controls, "◀ previous stage");
    var step = make("span", {"class": "aex-step"}, controls);
    var next = make("button", {"class": "aex-next", type: "button"}, controls, "next stage ▶");

    var arch = make("svg:svg", {"class": "aex-arch", viewBox: "0 0 720 170", role: "img"}, root);
    var info = make("div", {"class": "aex-info"}, root);
    var plot = make("svg:svg", {"class": "aex-values", viewBox: "0 0 720 170", role: "img"}, root);
    var lists = make("div", {"class": "aex-lists"}, root);
    var inBox = make("div", {}, lists), topBox = make("div", {}, lists);
    var inHead = make("h4", {}, inBox), inList = make("ul", {"class": "aex-input-films"}, inBox);
    var topHead = make("h4", {}, topBox), topList = make("ol", {"class": "aex-top"}, topBox);

    function model() { return data.models[state.model]; }
    function run() { return model().runs[state.user]; }

    function drawArchitecture() {
      arch.textContent = "";
      var stages = model().layers, n = stages.length;
      var maxLog = Math.max.apply(null, stages.map(function (s) { return Math.log10(Math.max(s.size, 2)); }));
      var gap = 720 / n, width = 34, mid = 72, box = [];
      stages.forEach(function (s, i) {
        var h = 120 * Math.log10(Math.max(s.size, 2)) / maxLog;
        box.push({x: gap * i + gap / 2 - width / 2, top: mid - h / 2, h: h});
      });
      for (var i = 0; i + 1 < n; i++) {  // the trapezoid between two stages: compression, then expansion
        var a = box[i], b = box[i + 1];
        make("svg:polygon", {"class": "aex-link", points: [a.x + width, a.top, b.x, b.top, b.x, b.top + b.h,
          a.x + width, a.top + a.h].join(" ")}, arch);
      }
      stages.forEach(function (s, i) {
        var classes = "aex-stage" + (i === state.stage ? " aex-selected" : "") +
          (i === state.hover ? " aex-hover" : "");
        var g = make("svg:g", {"class": classes, "data-index": i, tabindex: 0}, arch);
        make("svg:title", {}, g, s.name + " (" + s.size + "): " + s.what);
        make("svg:rect", {x: box[i].x, y: box[i].top, width: width, height: box[i].h, rx: 3}, g);
        make("svg:text", {x: box[i].x + width / 2, y: 148}, g, s.name);
        make("svg:text", {x: box[i].x + width / 2, y: 163}, g, s.size.toLocaleString("en-US"));
        g.addEventListener("mouseenter", function () { state.hover = i; render(false); });
        g.addEventListener("mouseleave", function () { state.hover = null; render(false); });
        g.addEventListener("click", function () { state.stage = i; state.hover = null; render(false); });
        g.addEventListener("keydown", function (e) { if (e.key === "Enter") { state.stage = i; render(false); } });
      });
    }

    function drawValues(index) {
      plot.textContent = "";
      var layer = model().layers[index], values = decode(run().stages[index]), n = values.length;
      var person = data.users[state.user], isFilm = n === data.titles.length;
      var top = {}, rated = {};
      run().top.forEach(function (item) { top[item] = true; });
      person.rated.forEach(function (item) { rated[item] = true; });
      var lo = Math.min(0, Math.min.apply(null, values)), hi = Math.max(0, Math.max.apply(null, values));
      var span = hi - lo || 1, left = 50, w = 660, y0 = 10, h = 130;
      var y = function (v) { return y0 + h * (hi - v) / span; };
      var step = w / n, bar = Math.max(step * 0.8, 0.8);
      make("svg:line", {"class": "aex-axis", x1: left, x2: left + w, y1: y(0), y2: y(0)}, plot);
      make("svg:line", {"class": "aex-axis", x1: left, x2: left, y1: y0, y2: y0 + h}, plot);
      make("svg:text", {"class": "aex-tick", x: left - 4, y: y(hi) + 4, "text-anchor": "end"}, plot, fmt(hi));
      make("svg:text", {"class": "aex-tick", x: left - 4, y: y(lo) + 4, "text-anchor": "end"}, plot, fmt(lo));
      make("svg:text", {"class": "aex-tick", x: left + w / 2, y: 162, "text-anchor": "middle"}, plot,
        !isFilm ? "unit of the " + layer.name : index === 0 ? "film (item index): one bar per film the user rated"
          : "film (item index); red: the top " + data.k + " filled in, grey: films the user rated");
      var exact = !!run().stages[index].values;
      for (var i = 0; i < n; i++) {
        var v = values[i];
        if (isFilm && index === 0 && v === 0) continue;  // the input is sparse: draw the rated films only
        var cls = "aex-v" + (isFilm && index > 0 ? (top[i] ? " aex-top-film" : rated[i] ? " aex-rated-film" : "") : "");
        var r = make("svg:rect", {"class": cls, "data-index": i, x: left + i * step, width: top[i] && isFilm ? 3 : bar,
          y: Math.min(y(v), y(0)), height: Math.max(Math.abs(y(v) - y(0)), 0.6)}, plot);
        make("svg:title", {}, r, (isFilm ? data.titles[i] : "unit " + (i + 1)) + ": " + (exact ? "" : "≈ ") + fmt(v));
      }
      var sum = values.reduce(function (a, b) { return a + b; }, 0);
      var nonzero = values.filter(function (v) { return v !== 0; }).length;
      return {name: layer.name, size: n, what: layer.what, min: Math.min.apply(null, values),
              max: Math.max.apply(null, values), mean: sum / n, nonzero: nonzero};
    }

    function drawLists() {
      var person = data.users[state.user], held = {};
      person.held_out.forEach(function (item) { held[item] = true; });
      inHead.textContent = "What went in: " + person.rated.length + " films rated in training (highest first)";
      inList.textContent = "";
      person.rated.slice(0, data.k).forEach(function (item, j) {
        make("li", {"data-item": item}, inList, data.titles[item] + " — " + "★".repeat(person.stars[j]));
      });
      if (person.rated.length > data.k) make("li", {}, inList, "… and " + (person.rated.length - data.k) + " more");
      topHead.textContent = model().name + " fills in (top " + data.k + " films the user has not rated; " +
        "✓ = rated 4+ in the held-out part)";
      topList.textContent = "";
      var outName = model().layers[model().layers.length - 1].name.split(" ")[1];
      run().top.forEach(function (item, j) {
        var text = data.titles[item] + " — " + outName + " = " + fmt(run().scores[j]);
        var li = make("li", {"data-item": item}, topList, text);
        var mark = {"class": "aex-hit", title: "rated 4 or 5 stars in the held-out part"};
        if (held[item]) make("span", mark, li, " ✓");
      });
    }

    function render(lists) {
      var n = model().layers.length;
      state.stage = Math.min(state.stage, n - 1);
      drawArchitecture();
      var shown = state.hover === null ? state.stage : state.hover;
      var s = drawValues(shown);
      info.innerHTML = "";
      make("b", {}, info, "Stage " + (shown + 1) + " of " + n + ": " + s.name + " (" + s.size.toLocaleString("en-US") +
        " numbers). ");
      make("span", {}, info, s.what + ". Here: min " + fmt(s.min) + ", max " + fmt(s.max) + ", mean " + fmt(s.mean) +
        ", " + s.nonzero + " non-zero." + (state.hover === null ? "" : " (Hovering: click to keep this stage.)"));
      info.setAttribute("data-stage", shown);
      step.textContent = "stage " + (state.stage + 1) + " of " + n;
      prev.disabled = state.stage === 0;
      next.disabled = state.stage === n - 1;
      if (lists) drawLists();
    }

    userPick.addEventListener("change", function () { state.user = +userPick.value; render(true); });
    modelPick.addEventListener("change", function () { state.model = +modelPick.value; render(true); });
    prev.addEventListener("click", function () { state.stage = Math.max(state.stage - 1, 0); render(false); });
    next.addEventListener("click", function () {
      state.stage = Math.min(state.stage + 1, model().layers.length - 1); render(false);
    });
    render(true);
  }

  var roots = document.querySelectorAll(".aex");
  for (var i = 0; i < roots.length; i++) if (!roots[i].getAttribute("data-ready")) init(roots[i]);
})();
