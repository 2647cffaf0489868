/**
 * The report of a real run (real Docker, a temporary store), opened in a real headless Chromium
 * with every network request refused. The page and a screenshot stay in test-output/report/ as CI
 * artifacts.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline } from "stepbox";
// As a user imports them: the package subpath stepbox/report.
import { loadRunReport, renderGraph, renderReportHtml, LOG_TAIL_BYTES, type RunReport } from "stepbox/report";
import { augment, broken, chatty, combine, load } from "../fixtures/report/steps.js";
import { leftoverContainers, testSession } from "../support/session.js";

const OUT = resolve(import.meta.dirname, "..", "..", "test-output", "report");
const CHROMIUM = process.env.STEPBOX_CHROMIUM ?? "/usr/bin/chromium";

let ctx: Awaited<ReturnType<typeof testSession>>;
let browser: Browser;
let report: RunReport;
let executionId: string;

/**
 * load → two `augment`s side by side (the parallel pair) → chatty (prints more than a report keeps)
 * → broken (throws; after chatty, so chatty has always run) → combine, which never starts because
 * broken failed.
 */
async function runFailingPipeline(): Promise<void> {
  const rows = load();
  const left = augment(rows, 1500);
  const right = augment(rows, 1500);
  const talk = chatty(4000, left);
  const done = combine(talk, broken([right, talk]));
  const pipeline = new Pipeline({ name: "report-demo", steps: [done], session: ctx.session });
  const execution = await pipeline.start({ parallelism: 2 });
  executionId = execution.id;
  expect((await execution.wait()).PipelineExecutionStatus).toBe("Failed");
  expect([pipeline.stepName(left), pipeline.stepName(right)]).toEqual(["augment", "augment-2"]);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run bash scripts/ensure-chromium.sh (or set STEPBOX_CHROMIUM to a chromium binary)`);
  }
  ctx = await testSession();
  await mkdir(OUT, { recursive: true });
  [browser] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] }), runFailingPipeline()]);
  report = await loadRunReport(ctx.session, "report-demo", executionId);
});

afterAll(async () => {
  await browser?.close();
  await ctx?.cleanup();
});

/** Opens a file with no network: every request but the file itself is refused and remembered. */
async function openOffline(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const url = pathToFileURL(file).href;
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  await page.route("**/*", (route) => (route.request().url() === url ? route.continue() : route.abort()));
  page.on("request", (request) => {
    if (request.url() !== url) requests.push(request.url());
  });
  // A CSP violation or a script error shows up here.
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  return { page, requests, errors };
}

describe("the report of a run", () => {
  it("holds every step's record and the end of each log", async () => {
    expect(await leftoverContainers(executionId)).toEqual([]);
    expect(report.execution.PipelineExecutionStatus).toBe("Failed");
    const byName = new Map(report.steps.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(["augment", "augment-2", "broken", "chatty", "combine", "load"]);
    expect(byName.get("combine")!.record).toBeUndefined();
    expect(byName.get("broken")!.record!.FailureReason).toContain("ModelBroke: weights are NaN");
    expect(byName.get("load")!.logs[0]!.text).toContain("loading 3 rows");
    const chattyLog = byName.get("chatty")!.logs[0]!;
    expect(chattyLog.truncated).toBe(true);
    expect(chattyLog.bytes).toBeGreaterThan(LOG_TAIL_BYTES);
    expect(Buffer.byteLength(chattyLog.text)).toBeLessThanOrEqual(LOG_TAIL_BYTES);
    expect(chattyLog.text).toMatch(/^chatty line \d+ /); // starts at a whole line
    expect(chattyLog.text).toContain("chatty is done");
    expect(report.definitionChanged).toBe(false);
  });

  it("opens in Chromium with no network, drawing every step, the failure, the timeline and the logs", async () => {
    const file = join(OUT, "report.html");
    await writeFile(file, renderReportHtml(report));
    const { page, requests, errors } = await openOffline(file);
    try {
      // Every step of the run is in the graph, coloured by its status.
      const drawn = await page
        .locator("#graph svg g.step")
        .evaluateAll((nodes) => nodes.map((n) => [n.getAttribute("data-step"), n.getAttribute("data-status")]));
      expect(Object.fromEntries(drawn)).toEqual({
        load: "Succeeded",
        augment: "Succeeded",
        "augment-2": "Succeeded",
        chatty: "Succeeded",
        broken: "Failed",
        combine: "NotRun",
      });
      for (const box of await page.locator("#graph svg g.step").all()) expect((await box.boundingBox())!.width).toBeGreaterThan(50);

      // The failed step's details are open and show its reason as text, not as markup.
      const failed = page.locator('details.step[data-step="broken"]');
      expect(await failed.getAttribute("open")).not.toBeNull();
      const reason = (await failed.locator('[data-role="failure-reason"]').textContent())!;
      expect(reason).toContain('ModelBroke: weights are NaN <img src=x onerror="window.__injected=1"> & <script>');
      expect(await page.locator('[data-role="execution-failure"]').textContent()).toContain("Step 'broken' failed");
      expect(await page.locator("img").count()).toBe(0);
      expect(await page.evaluate("typeof window.__injected")).toBe("undefined");

      // The timeline has a bar per started step, and the parallel pair's bars overlap.
      const bars = page.locator("#timeline svg rect.bar");
      expect(await bars.count()).toBe(5);
      const [a, b] = await Promise.all(["augment", "augment-2"].map(async (s) => (await bars.and(page.locator(`[data-step="${s}"]`)).boundingBox())!));
      expect(a!.x).toBeLessThan(b!.x + b!.width);
      expect(b!.x).toBeLessThan(a!.x + a!.width);
      expect(await page.locator(".fact", { hasText: "at most at once" }).locator("b").textContent()).toBe("2");

      // Logs are collapsible; a large one says it was cut.
      const chattyLog = page.locator('details.step[data-step="chatty"] details.log');
      expect(await chattyLog.getAttribute("data-truncated")).toBe("true");
      expect(await chattyLog.locator("summary").textContent()).toMatch(/showing the last 64 KiB/);
      expect(await page.locator('details.step[data-step="broken"] details.log pre').first().textContent()).toContain("about to break");

      // A click on a step in the graph opens its details.
      await page.locator('#graph svg g.step[data-step="load"]').click();
      expect(await page.locator('details.step[data-step="load"]').getAttribute("open")).not.toBeNull();

      await page.screenshot({ path: join(OUT, "report.png"), fullPage: true });
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("draws the SVG graph on its own, with boxes that do not overlap", async () => {
    const statuses = new Map(report.steps.map((s) => [s.name, s.record?.StepStatus ?? "NotRun"]));
    const file = join(OUT, "graph.svg");
    await writeFile(file, renderGraph(report.definition, "svg", statuses));
    const { page, requests, errors } = await openOffline(file);
    try {
      const boxes = await Promise.all((await page.locator("g.step").all()).map(async (g) => (await g.boundingBox())!));
      expect(boxes).toHaveLength(6);
      for (const [i, p] of boxes.entries()) {
        expect(p.width).toBeGreaterThan(50);
        for (const q of boxes.slice(i + 1)) expect(p.x + p.width <= q.x || q.x + q.width <= p.x || p.y + p.height <= q.y || q.y + q.height <= p.y).toBe(true);
      }
      // load → augment ×2, augment → chatty, augment-2 → broken, chatty → broken, chatty and broken → combine.
      expect(await page.locator("path.edge").count()).toBe(7);
      await page.locator("svg").screenshot({ path: join(OUT, "graph.png") });
      expect(requests).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
