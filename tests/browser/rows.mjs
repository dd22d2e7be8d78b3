// Loads the dashboard in Debian's headless Chromium and counts its guest rows.
//   node rows.mjs URL N   exits 0 when at least N guests are shown
import { chromium } from "playwright-core";

const [url, want] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction((n) => document.querySelectorAll("tr[data-guest]").length >= n,
                             Number(want), { timeout: 60000 });
  const rows = await page.locator("tr[data-guest]").count();
  console.log(`${rows} guest rows rendered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
}
