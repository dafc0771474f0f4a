// Visit pages of the built book in headless Chromium and report, per page, what a reader would meet.
// Usage: node check_pages.mjs <job.json>
//   job.json: {"base": "http://127.0.0.1:PORT/", "pages": ["index.html", ...],
//              "screenshots": {"index.html": "/abs/path.png", ...}, "profile": "/tmp/dir",
//              "chromium": "/usr/bin/chromium",
//              "views": [{"name": "390-light", "width": 390, "scheme": "light"}, ...],
//              "viewShots": {"index.html": {"390-light": "/abs/path.png", ...}, ...}}
// The main visit is at 1366 px in light mode; each extra view visits every page again at its width
// and colour scheme, to measure what only a phone (or dark mode) shows: `views[name]` holds its
// horizontal overflow and its figures' displayed sizes.
// Prints one JSON object: {"pages": {"index.html": {...facts...}, ...}}. The pytest wrapper
// (test_book_browser.py) decides what counts as a failure, so its messages stay in Python.
// Besides what a reader sees, each page's facts hold every local URL it requested (`requests`, for
// scripts/page_weight.py) and, for each plotly figure with a slider, what moving the slider did (`twins`).
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = new URL(job.base);

const context = await chromium.launchPersistentContext(job.profile, {
  executablePath: job.chromium,
  headless: true,
  viewport: { width: 1366, height: 900 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

// What a slider step may change: every trace's data and the figure title, as JSON. Typed arrays
// (plotly decodes base64 `{dtype, bdata}` into them) become plain arrays, so equal numbers compare
// equal whatever their container.
function figureState(gd) {
  const plain = (key, value) => (ArrayBuffer.isView(value) ? Array.from(value) : value);
  const state = {};
  gd._fullData.forEach((trace, i) => {
    for (const key of ["x", "y", "z", "text", "visible"]) {
      if (trace[key] !== undefined) state[`trace ${i} ${key}`] = JSON.stringify(trace[key], plain);
    }
  });
  const title = gd._fullLayout.title;
  state.title = JSON.stringify(title && typeof title === "object" ? title.text : title);
  return state;
}

// Where to click to choose step `target` of slider `s` of figure `el`, in viewport pixels: the step's
// tick, at the height of the slider's rail, scrolled into view once the figure stops moving; and
// the figure's state before the click (`stateSource`: figureState's source, run in the page).
async function stepPoint(el, [s, target, stateSource]) {
  const group = el.querySelectorAll(".slider-group")[s];
  const tick = group && group.querySelectorAll(".slider-tick-rect")[target];
  const rail = group && group.querySelector(".slider-rail-touch-rect");
  if (!tick || !rail) return null;
  const inView = (r) => r.top >= 0 && r.bottom <= window.innerHeight;
  if (!inView(rail.getBoundingClientRect())) rail.scrollIntoView({ block: "center", behavior: "instant" });
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  let last = "";
  for (let i = 0; i < 60; i++) {
    const t = tick.getBoundingClientRect();
    const r = rail.getBoundingClientRect();
    const now = `${t.left},${r.top},${r.height}`;
    if (now === last) {
      if ((t.width === 0 && t.height === 0) || !inView(r)) return null;
      const state = (0, eval)(`(${stateSource})`)(el);
      return { x: t.left + t.width / 2, y: r.top + r.height / 2, state };
    }
    last = now;
    await frame();
  }
  return null;
}

// The steps to click, in order: the one farthest from the start first (the biggest change), then up
// to MAX_MOVES - 1 more spread evenly over the rest, so a long slider costs no more than a short one
// (each click redraws the figure: about 0.1-0.2 s).
const MAX_MOVES = 5;
function stepsToVisit(start, steps) {
  const far = start < steps / 2 ? steps - 1 : 0;
  const rest = Array.from({ length: steps }, (_, i) => i).filter((i) => i !== start && i !== far);
  const picked = rest.length <= MAX_MOVES - 1 ? rest
    : Array.from({ length: MAX_MOVES - 1 }, (_, k) => rest[Math.round((k * (rest.length - 1)) / (MAX_MOVES - 2))]);
  return steps > 1 ? [far, ...(far === 0 ? picked : picked.reverse())] : [];
}

// Move every slider of every plotly figure on the page, one step at a time, with real mouse clicks
// on the slider's step ticks (plotly's sliders take no keyboard input). Reports, per figure and
// slider, where each click landed and which parts of the figure it changed (each move must change it).
async function moveTwins(page) {
  const figures = page.locator(".plotly-graph-div");
  const twins = [];
  const count = await figures.count();
  for (let f = 0; f < count; f++) {
    const gd = figures.nth(f);
    const { title, sliders } = await gd.evaluate((el) => ({
      title: el._fullLayout && el._fullLayout.title ? String(el._fullLayout.title.text || "") : "",
      sliders: (el._fullLayout && el._fullLayout.sliders || []).map((s) => ({ steps: s.steps.length, active: s.active })),
    }));
    for (let s = 0; s < sliders.length; s++) {
      const twin = { figure: f, title, slider: s, steps: sliders[s].steps, active: sliders[s].active, moves: [] };
      twins.push(twin);
      const order = stepsToVisit(sliders[s].active, twin.steps);
      for (const target of order) {
        const move = { to: target };
        twin.moves.push(move);
        let before = null;
        // Click the step's tick; retry when the click misses because the page was still moving
        // (late layout), recomputing the point each time.
        for (let attempt = 1; attempt <= 3; attempt++) {
          const at = await gd.evaluate(stepPoint, [s, target, figureState.toString()]);
          if (!at) { move.error = "no visible step tick to click"; break; }
          before = before || at.state;
          await page.mouse.click(at.x, at.y);
          move.attempts = attempt;
          move.landed = await page.waitForFunction(([el, s, target]) => el._fullLayout.sliders[s].active === target,
            [await gd.elementHandle(), s, target], { timeout: 3000 })
            .then(() => target)
            .catch(() => gd.evaluate((el, s) => el._fullLayout.sliders[s].active, s));
          if (move.landed === target) break;
        }
        if (move.error) break;
        // The state once plotly has drawn the frame after the click (its restyle is done by then).
        const after = await gd.evaluate((el, source) => new Promise((done) => requestAnimationFrame(
          () => done((0, eval)(`(${source})`)(el)))), figureState.toString());
        move.changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
      }
    }
  }
  return twins;
}

// What a reader's screen shows of the page's width: the page's scroll width against the window's,
// the elements that stick out (those not inside a box that scrolls or clips them), and every
// figure image of a cell output with its natural and displayed width (for the text size check).
function layoutFacts() {
  const vw = document.documentElement.clientWidth;
  // Hidden drawers (the theme's table of contents slides in from the right) are not on screen.
  const offstage = (el) => {
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.position === "fixed" || style.visibility === "hidden" || style.display === "none") return true;
    }
    return false;
  };
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox !== "visible" && a.getBoundingClientRect().right <= vw + 1) return true;
    }
    return false;
  };
  const name = (el) => `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string"
    ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : ""} "${(el.textContent || "").trim().slice(0, 40)}"`;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && !clipped(el) && !offstage(el)) {
      // Report the outermost offender only.
      if (!wide.some((w) => w.el.contains(el))) wide.push({ el, right: Math.round(r.right) });
    }
  }
  const figures = Array.from(document.querySelectorAll(".cell_output img, .output img"))
    .filter((img) => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0)
    .map((img) => ({ src: (img.currentSrc || img.src).split("/").pop(), natural: img.naturalWidth,
      shown: Math.round(img.getBoundingClientRect().width * 10) / 10 }));
  return {
    width: vw,
    scrollWidth: document.documentElement.scrollWidth,
    wide: wide.slice(0, 5).map((w) => `${name(w.el)} reaches ${w.right} px`),
    figures,
  };
}

// Wait until what a reader sees is in place: MathJax typeset, images decoded, fonts loaded.
async function settle(page) {
  await page.evaluate(() => (window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null))
    .catch(() => {});
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete), null, { timeout: 5000 })
    .catch(() => {});
  await page.evaluate(() => document.fonts.ready.then(() => null)).catch(() => {});
}

const results = {};
for (const path of job.pages) {
  const facts = { console: [], failed: [], external: [], httpErrors: [], requests: [] };
  const started = Date.now();
  const page = await context.newPage();
  // Every request to another host is recorded and aborted: the book must work offline. Routing also
  // turns off the HTTP cache, so every page loads all it needs, as on a first visit: `requests`
  // (every local URL the page asked for, scripts and fonts loaded at run time included) is its weight.
  page.on("request", (req) => { if (new URL(req.url()).host === base.host) facts.requests.push(req.url()); });
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.host === base.host) return route.continue();
    facts.external.push(route.request().url());
    return route.abort();
  });
  page.on("console", (msg) => { if (msg.type() === "error") facts.console.push(msg.text()); });
  page.on("pageerror", (err) => facts.console.push(String(err)));
  page.on("requestfailed", (req) => {
    if (new URL(req.url()).host === base.host) facts.failed.push(`${req.url()} (${req.failure()?.errorText})`);
  });
  page.on("response", (res) => { if (res.status() >= 400) facts.httpErrors.push(`${res.status()} ${res.url()}`); });

  await page.goto(new URL(path, base).href, { waitUntil: "load", timeout: 20000 });
  // MathJax 3 typesets after load; its startup promise resolves when the first typeset is done.
  await page.evaluate(() => (window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null))
    .catch((err) => facts.console.push(`MathJax startup: ${err}`));
  // Widgets render on "load" from their saved state; give them a moment to appear.
  const views = await page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count();
  if (views > 0) {
    await page.waitForFunction(
      (n) => document.querySelectorAll(".widget-subarea .jupyter-widgets").length >= n, views, { timeout: 10000 },
    ).catch(() => {});
  }
  // Images added by scripts (widget outputs) may still be decoding.
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete), null, { timeout: 5000 })
    .catch(() => {});
  // Web fonts (MathJax's among them) are fetched once text needs them: wait, so `requests` has them.
  await page.evaluate(() => document.fonts.ready.then(() => null)).catch(() => {});
  // plotly.js: where it came from, and whether a copy is also inlined (a second, 1.5-5 MB load).
  Object.assign(facts, await page.evaluate(() => ({
    plotlyFigures: document.querySelectorAll(".plotly-graph-div").length,
    plotlyVersion: window.Plotly ? String(window.Plotly.version) : null,
    plotlyTags: Array.from(document.querySelectorAll("script[src]")).map((el) => el.getAttribute("src"))
      .filter((src) => /plotly[^/]*\.js(\?|#|$)/i.test(src)),
    plotlyInline: Array.from(document.querySelectorAll("script:not([src])"))
      .filter((el) => /plotly\.js[^\n]{0,80}v\d+\.\d+\.\d+/.test(el.textContent.slice(0, 2000))).length,
  })));

  Object.assign(facts, await page.evaluate(() => {
    const main = document.querySelector("article") || document.body;
    // Text a reader sees outside code: raw TeX delimiters there mean MathJax did not run.
    const prose = main.cloneNode(true);
    prose.querySelectorAll("pre, code, script, style, mjx-container, .cell_output").forEach((el) => el.remove());
    const text = prose.textContent;
    const rawMath = ["$$", "\\(", "\\)", "\\[", "\\]", "\\begin{"].filter((s) => text.includes(s));
    const mathNodes = Array.from(main.querySelectorAll(".math"));
    const untypeset = mathNodes.filter((el) => !el.querySelector("mjx-container")).map((el) => el.textContent.slice(0, 80));
    const images = Array.from(document.images);
    const visible = (el) => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
    const solutions = Array.from(main.querySelectorAll(".solution.admonition, details.solution"));
    const openSolutions = solutions.filter((sol) => {
      if (sol.tagName === "DETAILS") return sol.open;
      const body = Array.from(sol.children).filter((c) => !c.classList.contains("admonition-title"));
      return body.some((c) => visible(c) && c.getBoundingClientRect().height > 0);
    }).map((sol) => sol.id);
    const outputs = Array.from(main.querySelectorAll(".cell_output, .output"));
    return {
      title: document.title,
      headings: Array.from(main.querySelectorAll("h1, h2, h3, h4, h5, h6")).map((h) => Number(h.tagName[1])),
      mathNodes: mathNodes.length,
      mjx: document.querySelectorAll("mjx-container").length,
      texErrors: Array.from(document.querySelectorAll("mjx-merror")).map((el) => el.getAttribute("data-mjx-error") || el.textContent),
      untypeset,
      rawMath,
      brokenImages: images.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.currentSrc || img.src),
      imagesWithoutAlt: Array.from(main.querySelectorAll("img"))
        .filter((img) => !(img.getAttribute("alt") || "").trim() || /^[0-9a-f]{64}\.\w+$/.test(img.getAttribute("alt")))
        .map((img) => img.src.slice(0, 120)),
      images: images.length,
      tracebacks: outputs.filter((o) => o.classList.contains("traceback") || /Traceback \(most recent call last\)/.test(o.textContent))
        .map((o) => o.textContent.slice(0, 200)),
      solutions: solutions.length,
      openSolutions,
      // Reader features: launch links (Colab, Binder), the .ipynb download, copy buttons on code.
      launchLinks: Array.from(document.querySelectorAll("a[href]")).map((a) => a.getAttribute("href"))
        .filter((h) => /colab\.research\.google\.com|mybinder\.org|_sources\/.*\.ipynb$/.test(h)),
      codeBlocks: main.querySelectorAll("div.highlight pre").length,
      copyButtons: main.querySelectorAll("button.copybtn").length,
      widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
      widgetsShown: Array.from(document.querySelectorAll(".widget-subarea .jupyter-widgets"))
        .filter((w) => visible(w) && w.getBoundingClientRect().width > 0).length,
    };
  }));
  facts.layout = await page.evaluate(layoutFacts);
  const shot = job.screenshots[path];
  if (shot) {
    await page.screenshot({ path: shot, fullPage: true });
    // A full-page screenshot resizes the window for a moment, and plotly redraws its figures on a
    // resize a little later (a 100 ms debounce). Let that redraw finish before clicking sliders, or
    // a click can land on a tick that is still moving.
    await page.evaluate(async () => {
      if (!window.Plotly) return;
      for (const gd of document.querySelectorAll(".plotly-graph-div")) await window.Plotly.Plots.resize(gd);
    }).catch(() => {});
    await page.waitForTimeout(300);
  }
  // After the screenshot, which shows each figure in its first state.
  facts.twins = await moveTwins(page);
  await page.close();
  facts.seconds = (Date.now() - started) / 1000;
  // The same page at each extra width and colour scheme (a phone, dark mode).
  facts.views = {};
  for (const view of job.views || []) {
    const extra = await context.newPage();
    const errors = [];
    extra.on("console", (msg) => { if (msg.type() === "error") errors.push(msg.text()); });
    extra.on("pageerror", (err) => errors.push(String(err)));
    await extra.setViewportSize({ width: view.width, height: 900 });
    await extra.emulateMedia({ colorScheme: view.scheme });
    await extra.route("**/*", (route) => (new URL(route.request().url()).host === base.host
      ? route.continue() : route.abort()));
    await extra.goto(new URL(path, base).href, { waitUntil: "load", timeout: 20000 });
    await settle(extra);
    const seen = await extra.evaluate(layoutFacts);
    seen.console = errors;
    seen.theme = await extra.evaluate(() => document.documentElement.dataset.theme || "");
    const viewShot = (job.viewShots || {})[path]?.[view.name];
    if (viewShot) await extra.screenshot({ path: viewShot, fullPage: true });
    await extra.close();
    facts.views[view.name] = seen;
  }
  results[path] = facts;
}
await context.close();
process.stdout.write(JSON.stringify({ pages: results }));
