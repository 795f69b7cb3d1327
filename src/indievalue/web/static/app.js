// indievalue serve: the page holds the answers; the server computes each step from them.
"use strict";

const state = { answers: [], skipped: [] };
let current = null;          // the question on screen
let previous = new Map();    // qid -> probability at the step before the one shown
let lastPredictions = [];
let accuracyHistory = [];    // expected accuracy after each answer
let trail = [];              // map positions after each answer
let showAll = false;
let mapInfo = null;
let criterion = "information";
const WHY = {
  information: g => "Chosen because its answer is expected to change the model's predictions " +
    "on the other questions the most (expected information " + g.toFixed(2) + " nats).",
  accuracy: g => "Chosen because its answer is expected to make " + g.toFixed(2) +
    " more of the model's predictions right on the other questions.",
  logloss: g => "Chosen because its answer is expected to lower the log loss of the model's " +
    "predictions on the other questions the most (by " + g.toFixed(2) + " nats).",
};
const SVGNS = "http://www.w3.org/2000/svg";
const CONTINENT_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
                           "#7F7F7F"];

function $(id) { return document.getElementById(id); }

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body) });
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = JSON.stringify((await r.json()).detail); } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return r;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function pct(p) { return (100 * p).toFixed(1) + " %"; }

async function step() {
  setBusy(true);
  try {
    const data = await (await post("/api/step", state)).json();
    render(data);
  } catch (e) {
    $("why").textContent = "Error: " + e.message;
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  document.querySelectorAll(".option").forEach(b => { b.disabled = busy; });
  $("skip").disabled = busy || !current;
  $("undo").disabled = busy || state.answers.length === 0;
  $("download").disabled = busy || state.answers.length === 0;
}

function render(data) {
  current = data.question;
  $("answered").textContent = String(data.answered);
  $("expected-accuracy").textContent =
    data.expected_accuracy === null ? "–" : pct(data.expected_accuracy);
  accuracyHistory = accuracyHistory.slice(0, data.answered);
  accuracyHistory[data.answered] = data.expected_accuracy;
  drawHistory();
  renderQuestion(data);
  previous = new Map(lastPredictions.map(p => [p.qid, p.probability]));
  lastPredictions = data.predictions;
  renderPredictions();
  trail = trail.slice(0, data.answered);
  if (data.position) trail[data.answered] = data.position;
  drawMap();
}

function renderQuestion(data) {
  const box = $("options");
  box.replaceChildren();
  if (!current) {
    $("qnumber").textContent = "No question left";
    $("qcategory").textContent = "";
    $("question").textContent = "You have answered everything we could ask.";
    $("why").textContent = "";
    return;
  }
  $("qnumber").textContent = "Question " + (data.answered + 1) + " · " + current.qid;
  $("qcategory").textContent = "· " + current.category;
  $("question").textContent = "Which statement fits you best?";
  current.options.forEach((text, i) => {
    const b = el("button", { type: "button", class: "option", "data-index": String(i) });
    b.appendChild(el("span", { class: "num" }, String(i + 1)));
    b.appendChild(document.createTextNode(text));
    b.addEventListener("click", () => answer(i));
    box.appendChild(b);
  });
  $("why").textContent = (WHY[criterion] || WHY.information)(current.gain);
}

function renderPredictions() {
  const predictions = lastPredictions;
  const list = $("predictions");
  list.replaceChildren();
  const sorted = predictions.slice().sort((a, b) => b.probability - a.probability);
  const shown = showAll ? sorted : sorted.slice(0, 12);
  for (const p of shown) {
    const li = el("li", { "data-qid": p.qid });
    li.appendChild(el("span", { class: "qid" }, p.qid));
    const statement = el("span", { class: "statement", title: p.category }, p.statement);
    const before = previous.get(p.qid);
    if (before !== undefined && p.probability > before + 0.02) statement.classList.add("up");
    li.appendChild(statement);
    const bar = el("div", { class: "bar" });
    const fill = el("span");
    fill.style.width = (100 * p.probability).toFixed(1) + "%";
    bar.appendChild(fill);
    bar.appendChild(el("em", { class: "prob" }, Math.round(100 * p.probability) + " %"));
    li.appendChild(bar);
    list.appendChild(li);
  }
  $("more").textContent = showAll ? "Show fewer" : "Show all " + predictions.length;
}

function drawHistory() {
  const h = $("history");
  h.replaceChildren();
  const pts = accuracyHistory.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
  if (pts.length < 2) return;
  const lo = Math.min(...pts.map(p => p[1])), hi = Math.max(...pts.map(p => p[1]));
  const span = Math.max(hi - lo, 0.01), n = Math.max(pts.length - 1, 1);
  const d = pts.map(([i, v], j) => (j ? "L" : "M") + (4 + 212 * i / n).toFixed(1) + " " +
    (56 - 52 * (v - lo) / span).toFixed(1)).join(" ");
  h.appendChild(svg("path", { d: d, fill: "none", stroke: "#0072B2", "stroke-width": "2" }));
}

function drawMap() {
  const m = $("map");
  m.replaceChildren();
  if (!mapInfo) {
    $("map-note").textContent = "No map: the catalog has no countries of known position.";
    return;
  }
  // The view frames the country means (persons spread far wider than countries differ);
  // persons outside it are not drawn, and "you" is held at the edge.
  const view = mapInfo.view;
  const size = 520, left = 40, bottom = 40;
  const clampX = v => Math.min(Math.max(v, view.x[0]), view.x[1]);
  const clampY = v => Math.min(Math.max(v, view.y[0]), view.y[1]);
  const rx = v => left + (size - left - 10) * (v - view.x[0]) / (view.x[1] - view.x[0]);
  const ry = v => (size - bottom) - (size - bottom - 10) * (v - view.y[0]) / (view.y[1] - view.y[0]);
  const sx = v => rx(clampX(v)), sy = v => ry(clampY(v));
  const defs = svg("defs", {});
  const clip = svg("clipPath", { id: "plot-area" });
  clip.appendChild(svg("rect", { x: left, y: 10, width: size - left - 10, height: size - bottom - 10 }));
  defs.appendChild(clip);
  m.appendChild(defs);
  const inView = p => p[0] >= view.x[0] && p[0] <= view.x[1] && p[1] >= view.y[0] && p[1] <= view.y[1];
  const continents = [...new Set(mapInfo.persons.map(p => p[2]))].sort();
  const colour = new Map(continents.map((c, i) => [c, CONTINENT_COLOURS[i % CONTINENT_COLOURS.length]]));
  m.appendChild(svg("line", { x1: left, y1: size - bottom, x2: size - 10, y2: size - bottom, stroke: "#999" }));
  m.appendChild(svg("line", { x1: left, y1: 10, x2: left, y2: size - bottom, stroke: "#999" }));
  for (const p of mapInfo.persons.filter(inView)) {
    m.appendChild(svg("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 1.6,
                                  fill: colour.get(p[2]), "fill-opacity": 0.35 }));
  }
  for (const c of mapInfo.countries) {
    const g = svg("g", {});
    g.appendChild(svg("circle", { cx: sx(c.x), cy: sy(c.y), r: 2.6, fill: "#fff", stroke: "#333" }));
    const t = svg("text", { x: sx(c.x) + 4, y: sy(c.y) - 3 }, c.label);
    g.appendChild(t);
    g.appendChild(svg("title", {}, c.name));
    m.appendChild(g);
  }
  const points = trail.filter(Boolean);
  if (points.length > 1) {
    m.appendChild(svg("path", { class: "trail", "clip-path": "url(#plot-area)", d: points.map((p, i) =>
      (i ? "L" : "M") + rx(p[0]).toFixed(1) + " " + ry(p[1]).toFixed(1)).join(" ") }));
  }
  if (points.length) {
    const last = points[points.length - 1];
    const inside = inView(last);
    m.appendChild(svg("circle", { id: "you", class: inside ? "you" : "you off", cx: sx(last[0]),
                                  cy: sy(last[1]), r: 7 }));
    m.appendChild(svg("text", { x: sx(last[0]) + (sx(last[0]) > size - 90 ? -80 : 9),
                                y: sy(last[1]) + (sy(last[1]) < 20 ? 16 : 4), "font-weight": "bold" },
                      inside ? "you" : "you (further out)"));
  }
  continents.forEach((c, i) => {
    const y = 18 + 13 * i;
    m.appendChild(svg("circle", { cx: left + 12, cy: y - 3.5, r: 3.5, fill: colour.get(c) }));
    m.appendChild(svg("text", { x: left + 20, y: y, class: "legend" }, c));
  });
  m.appendChild(svg("text", { class: "axis", x: (size + left) / 2, y: size - 12, "text-anchor": "middle" },
                    mapInfo.axes[0] + " →"));
  m.appendChild(svg("text", { class: "axis", x: 14, y: (size - bottom) / 2, "text-anchor": "middle",
                              transform: "rotate(-90 14 " + (size - bottom) / 2 + ")" },
                    mapInfo.axes[1] + " →"));
  $("map-note").textContent = "Dots: persons of the population, coloured by continent; circles: country means (hover for the name). The axes are the " +
    "Inglehart–Welzel dimensions; country means match the published positions with r = " +
    mapInfo.r_held_out[0].toFixed(2) + " and " + mapInfo.r_held_out[1].toFixed(2) +
    " (each country left out of the fit). People differ far more than countries do: many " +
    "persons fall outside this view. With few answers you sit near the middle: the model " +
    "does not know you yet.";
}

function answer(i) {
  if (!current) return;
  state.answers.push({ qid: current.qid, option: i });
  step();
}

$("skip").addEventListener("click", () => {
  if (!current) return;
  state.skipped.push(current.qid);
  step();
});
$("undo").addEventListener("click", () => {
  if (!state.answers.length) return;
  state.answers.pop();
  step();
});
$("more").addEventListener("click", () => {
  showAll = !showAll;
  renderPredictions();
});
$("download").addEventListener("click", async () => {
  try {
    const blob = await (await post("/api/survey", state)).blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: "my-answers.csv" });
    document.body.appendChild(a);
    a.click();
    a.remove();
  } catch (e) {
    $("why").textContent = "Error: " + e.message;
  }
});
document.addEventListener("keydown", e => {
  const n = parseInt(e.key, 10);
  if (current && n >= 1 && n <= current.options.length) answer(n - 1);
});

(async () => {
  const info = await (await fetch("/api/info")).json();
  mapInfo = info.map;
  criterion = info.criterion;
  $("banner").hidden = !info.synthetic;
  step();
})();
