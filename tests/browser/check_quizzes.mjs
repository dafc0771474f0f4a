// Answer every self-check quiz of the built book in headless Chromium, as a reader would, with no kernel.
// Usage: node check_quizzes.mjs <job.json>
//   job.json: {"base": "http://127.0.0.1:PORT/", "stems": ["01_attention_as_focus", ...],
//              "profile": "/tmp/dir", "chromium": "/usr/bin/chromium"}
// For each chapter page: the card is shown; every question renders; each wrong choice of a multiple-choice
// question gives "Not quite" feedback and the right one "Correct"; for a numeric question, a listed wrong
// value and then the right value are typed and Enter pressed. Requests to other hosts are recorded and aborted.
// Prints {"pages": {stem: {...facts...}}}; test_quizzes_browser.py decides what fails.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = new URL(job.base);
const context = await chromium.launchPersistentContext(job.profile, {
  executablePath: job.chromium, headless: true, viewport: { width: 1280, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pages = {};
for (const stem of job.stems) {
  const facts = { external: [], console: [], problems: [] };
  const page = await context.newPage();
  await page.route("**/*", (route) => {
    if (new URL(route.request().url()).host === base.host) return route.continue();
    facts.external.push(route.request().url());
    return route.abort();
  });
  page.on("console", (msg) => { if (msg.type() === "error") facts.console.push(msg.text()); });
  page.on("pageerror", (err) => facts.console.push(String(err)));
  await page.goto(new URL(`notebooks/${stem}.html`, base).href, { waitUntil: "load", timeout: 20000 });
  await page.evaluate(() => (window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null))
    .catch((err) => facts.console.push(`MathJax startup: ${err}`));
  await page.waitForTimeout(700);  // jupyterquiz typesets its questions 500 ms after it runs
  facts.cards = await page.locator("blockquote", { hasText: "After this chapter you will be able to" }).count();
  const questions = page.locator(`#quiz_${stem} .Quiz`);
  facts.questions = await questions.count();
  for (let i = 0; i < facts.questions; i++) {
    const q = questions.nth(i);
    const feedback = q.locator(".Feedback");
    const expect = async (start, what) => {
      const text = await feedback.innerText();
      const cls = (await feedback.getAttribute("class")) || "";
      const wanted = start === "Correct" ? /(^|\s)correct(\s|$)/ : /(^|\s)incorrect(\s|$)/;
      if (!text.startsWith(start) || !wanted.test(cls)) facts.problems.push(`question ${i + 1}, ${what}: got "${text}"`);
    };
    const input = q.locator("input.Input-text");
    if (await input.count()) {
      const answers = JSON.parse(await input.getAttribute("data-answers"));
      const wrong = answers.find((a) => "value" in a && !a.correct);
      for (const [value, start] of [[wrong && wrong.value, "Not quite"], [answers.find((a) => a.correct).value, "Correct"]]) {
        if (value === undefined) continue;
        await input.click();
        await input.pressSequentially(String(value));
        await input.press("Enter");
        await expect(start, `typed ${value}`);
      }
    } else {
      const wrongs = q.locator('label.MCButton[data-correct="false"]');
      for (let j = 0; j < await wrongs.count(); j++) {
        await wrongs.nth(j).click();
        await expect("Not quite", `wrong choice ${j + 1}`);
      }
      await q.locator('label.MCButton[data-correct="true"]').click();
      await expect("Correct", "right choice");
    }
  }
  pages[stem] = facts;
  await page.close();
}
console.log(JSON.stringify({ pages }));
await context.close();
