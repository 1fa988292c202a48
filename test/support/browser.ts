// Headless Chromium for browser tests, driven by playwright-core. The browser binary comes from
// the @sparticuz/chromium npm package (it ships Chromium inside the package), so the README's
// test command needs no download and no system package.

import chromium from "@sparticuz/chromium";
import { type Browser, chromium as playwright } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

/**
 * One browser for the tests of a file, closed after them. Give each test its own context
 * (`browser.newContext()`), so cookies and dialogs never leak between tests.
 *
 * @example
 * ```ts
 * const browser = useBrowser();
 * test("loads", async () => {
 *   const page = await (await browser.get().newContext()).newPage();
 * });
 * ```
 */
export function useBrowser(): { get(): Browser } {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await playwright.launch({
      executablePath: await chromium.executablePath(),
      args: [
        ...chromium.args,
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get() {
      if (!browser) throw new Error("useBrowser(): the browser exists once beforeAll ran");
      return browser;
    },
  };
}
