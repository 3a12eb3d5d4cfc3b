// Browser scenarios of crawlctl's web UI in headless Chromium, run by
// ui_browser_test.go against a real cluster. Environment:
//   UI_URL        the web server, e.g. http://127.0.0.1:8081
//   UI_USER, UI_PASSWORD   an admin's login
//   PROJECT_ZIP   the demo project archive to upload
//   OUT_DIR       where a failing step saves its screenshot
//   SHOT_DIR      when set, where the README's screenshots are saved
// Each step prints "STEP name ok"; the first failure prints "FAIL name: why",
// saves OUT_DIR/failure-NAME.png and exits 1.
import { chromium } from "playwright-core";
import path from "node:path";

const base = process.env.UI_URL;
const out = process.env.OUT_DIR || ".";
const shots = process.env.SHOT_DIR || "";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 750 } });
const page = await context.newPage();
page.setDefaultTimeout(20000);
page.on("dialog", (d) => d.accept()); // every confirm() is answered yes
const outside = [];
page.on("request", (r) => { if (!r.url().startsWith(base)) outside.push(r.url()); });
const pageErrors = [];
function watch(p) {
  p.on("pageerror", (e) => pageErrors.push(String(e)));
  // A Content-Security-Policy refusal shows only on the console.
  p.on("console", (m) => { if (/Content.Security.Policy/i.test(m.text())) pageErrors.push(m.text()); });
}
watch(page);
context.on("page", watch);

async function step(name, fn) {
  try {
    await fn();
    console.log(`STEP ${name} ok`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.message ? e.message.split("\n")[0] : e}`);
    try { await page.screenshot({ path: path.join(out, `failure-${name}.png`), fullPage: true }); } catch {}
    await browser.close();
    process.exit(1);
  }
}

function must(cond, why) { if (!cond) throw new Error(why); }

const row = (attr, value) => page.locator(`tr[${attr}="${value}"]`);

await step("login", async () => {
  await page.goto(base + "/ui/");
  must(page.url().includes("/ui/login"), "not sent to the login page: " + page.url());
  await page.fill("input[name=user]", process.env.UI_USER);
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  await page.getByText("Wrong user name or password.").waitFor();
  await page.fill("input[name=password]", process.env.UI_PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/ui\/executions/);
  await page.getByRole("heading", { name: "Executions" }).waitFor();
  const cookies = await context.cookies();
  const s = cookies.find((c) => c.name === "azkaban.browser.session.id");
  must(s && s.httpOnly && s.sameSite === "Lax", "session cookie: " + JSON.stringify(s));
});

await step("executors-inactive", async () => {
  await page.click("nav >> text=Executors");
  await page.waitForURL(/\/ui\/executors$/);
  for (const name of ["exec-1", "exec-2", "exec-3"]) {
    const sw = row("data-executor", name).locator("button.switch");
    must((await sw.getAttribute("aria-checked")) === "false", `${name} is not shown inactive`);
    await row("data-executor", name).locator(".status-online").waitFor();
  }
});

await step("activate", async () => {
  await row("data-executor", "exec-1").locator("button.switch").click();
  await page.getByText("Executor exec-1 is now active.").waitFor();
  must((await row("data-executor", "exec-1").locator("button.switch").getAttribute("aria-checked")) === "true", "exec-1's switch is off after activating");
  must((await row("data-executor", "exec-2").locator("button.switch").getAttribute("aria-checked")) === "false", "exec-2 changed too");
  console.log("REPORT activated exec-1");
});

await step("upload", async () => {
  await page.click("nav >> text=Projects");
  await page.fill("#upload-form input[name=name]", "webui-demo");
  await page.setInputFiles("#upload-form input[type=file]", process.env.PROJECT_ZIP);
  await page.click("#upload-form button[type=submit]");
  await page.waitForURL(/\/ui\/projects\/webui-demo/);
  await page.getByText("Uploaded version 1.").waitFor();
  await row("data-flow", "crawl").waitFor();
  await row("data-flow", "long").waitFor();
});

let runURL = "";
await step("run-with-parameter", async () => {
  await row("data-flow", "crawl").locator("a").first().click();
  await page.waitForURL(/\/flows\/crawl/);
  await page.locator("svg.dag g.node[data-id=fetch]").waitFor();
  const param = page.locator("input[name='param.greeting']");
  must((await param.inputValue()) === "hello", "the flow's config is not pre-filled: " + (await param.inputValue()));
  await param.fill("hello from the browser");
  await page.click("#run-form button[type=submit]");
  await page.waitForURL(/\/ui\/executions\/\d+/);
  runURL = page.url();
});

await step("graph-turns-green-log-follows", async () => {
  // While it runs: a node is drawn RUNNING and the job's log shows the
  // parameter, without reloading the page.
  await page.locator("svg.dag g.node.status-RUNNING").first().waitFor();
  await page.locator("#log-job").selectOption("fetch");
  await page.locator("#log-text", { hasText: "greeting=hello from the browser" }).waitFor();
  must((await page.locator("#exec-status").textContent()) !== "SUCCEEDED", "the run ended before the log was seen running");
  await page.locator("#exec-status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 45000 });
  for (const id of ["fetch", "parse", "report"]) {
    const cls = await page.locator(`svg.dag g.node[data-id="${id}"]`).getAttribute("class");
    must(cls.includes("status-SUCCEEDED"), `node ${id} is ${cls}`);
  }
  await page.locator("#log-state", { hasText: "End of log" }).waitFor();
  if (shots) await page.screenshot({ path: path.join(shots, "ui-execution.png") });
  // The embedded flow opens its own level.
  await page.locator('svg.dag g.node[data-id="parse"]').click();
  await page.waitForURL(/level=parse/);
  await page.locator('svg.dag g.node[data-id="parse:clean"].status-SUCCEEDED').waitFor();
  const raw = await page.request.get(base + new URL(await page.locator("#log-raw").getAttribute("href"), base).pathname + "?job=fetch");
  must((await raw.text()).includes("greeting=hello from the browser"), "raw log lacks the output");
  console.log("REPORT ran " + runURL);
});

await step("drain-and-kill", async () => {
  await page.goto(base + "/ui/projects/webui-demo/flows/long");
  if (shots) await page.screenshot({ path: path.join(shots, "ui-flow.png") });
  await page.click("#run-form button[type=submit]");
  await page.waitForURL(/\/ui\/executions\/\d+/);
  await page.locator("#exec-status", { hasText: "RUNNING" }).waitFor();
  await page.locator("#log-job").selectOption("sleeper");
  await page.locator("#log-text", { hasText: "sleeping" }).waitFor();
  // In a second tab: deactivate exec-1 and wait for its drain.
  const drain = await context.newPage();
  drain.on("dialog", (d) => d.accept());
  await drain.goto(base + "/ui/executors");
  await drain.locator('tr[data-executor="exec-1"] a').click();
  await drain.click("text=Deactivate and wait for drain");
  await drain.locator("#drain-count", { hasText: "1" }).waitFor();
  // A third tab lists the executions; it follows the kill without a reload.
  const list = await context.newPage();
  await list.goto(base + "/ui/executions");
  const longRow = list.locator("tr[data-execution]").first();
  must((await longRow.locator(".status").textContent()) === "RUNNING", "the list does not show the long run RUNNING");
  // Kill the long run: its page turns KILLED, the drain view counts down.
  await page.click("#kill-form button");
  await page.locator("#exec-status", { hasText: "KILLED" }).waitFor({ timeout: 45000 });
  await page.locator('svg.dag g.node[data-id="sleeper"].status-KILLED').waitFor();
  must((await page.locator("#kill-form").count()) === 0, "Kill is still offered");
  await drain.locator("#drain.done", { hasText: "Drained" }).waitFor();
  await list.locator("tr[data-execution] .status-KILLED").waitFor();
  await list.close();
  // Switch it back on from its own page.
  await drain.locator("button.switch").click();
  await drain.getByText("Executor exec-1 is now active.").waitFor();
  await drain.close();
  console.log("REPORT killed " + page.url());
});

await step("executions-filter", async () => {
  await page.goto(base + "/ui/executions?status=KILLED");
  await page.locator("tr[data-execution]").first().waitFor();
  must((await page.locator("tr[data-execution]").count()) === 1, "the KILLED filter lists more than one");
  await page.locator("tr[data-execution] .status-KILLED").waitFor();
  if (shots) {
    await page.goto(base + "/ui/executors");
    await page.screenshot({ path: path.join(shots, "ui-executors.png") });
    await page.goto(base + "/ui/executions");
    await page.screenshot({ path: path.join(shots, "ui-executions.png") });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(runURL);
    await page.locator("#log-state", { hasText: "End of log" }).waitFor();
    await page.screenshot({ path: path.join(shots, "ui-execution-dark.png") });
    await page.emulateMedia({ colorScheme: "light" });
  }
});

await step("schedule", async () => {
  await page.click("nav >> text=Schedules");
  await page.fill("#schedule-form input[name=project]", "webui-demo");
  await page.fill("#schedule-form input[name=flow]", "crawl");
  await page.fill("#schedule-form input[name=cron]", "0 0 3 * * ?");
  await page.fill("#schedule-form input[name=tz]", "Asia/Tokyo");
  await page.click("#schedule-form button[type=submit]");
  await page.getByText(/Schedule \d+ added\./).waitFor();
  const r = page.locator("tr[data-schedule]").first();
  must((await r.locator("text=03:00:00").count()) === 3, "three next fires at 03:00 are not shown");
  must((await r.locator(".tz", { hasText: "Asia/Tokyo" }).count()) === 3, "the zone is not beside every time");
  await r.locator("button", { hasText: "Pause" }).click();
  await page.getByText(/Schedule \d+ paused\./).waitFor();
  await page.locator("tr[data-schedule] .status-PAUSED").waitFor();
  if (shots) await page.screenshot({ path: path.join(shots, "ui-schedules.png") });
  console.log("REPORT paused " + (await page.locator("tr[data-schedule]").first().getAttribute("data-schedule")));
});

await step("logout", async () => {
  await page.click("text=Log out");
  await page.waitForURL(/\/ui\/login/);
  await page.goto(base + "/ui/executors");
  must(page.url().includes("/ui/login"), "still logged in after logout");
});

await step("nothing-from-outside", async () => {
  must(outside.length === 0, "requests left the server: " + outside.join(", "));
  must(pageErrors.length === 0, "script errors or CSP refusals: " + pageErrors.join("; "));
});

await browser.close();
console.log("DONE");
