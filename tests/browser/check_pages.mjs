// Visit pages of the built book in headless Chromium and report, per page, what a reader would meet.
// Usage: node check_pages.mjs <job.json>
//   job.json: {"base": "http://127.0.0.1:PORT/", "pages": ["index.html", ...],
//              "screenshots": {"index.html": "/abs/path.png", ...}, "profile": "/tmp/dir",
//              "chromium": "/usr/bin/chromium"}
// Prints one JSON object: {"pages": {"index.html": {...facts...}, ...}}. The pytest wrapper
// (test_book_browser.py) decides what counts as a failure, so its messages stay in Python.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = new URL(job.base);

const context = await chromium.launchPersistentContext(job.profile, {
  executablePath: job.chromium,
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

const results = {};
for (const path of job.pages) {
  const facts = { console: [], failed: [], external: [], httpErrors: [] };
  const started = Date.now();
  const page = await context.newPage();
  // Every request to another host is recorded and aborted: the book must work offline.
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
  const shot = job.screenshots[path];
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  await page.close();
  facts.seconds = (Date.now() - started) / 1000;
  results[path] = facts;
}
await context.close();
process.stdout.write(JSON.stringify({ pages: results }));
