import { expect, test } from "vitest";
import { LazyAbortController } from "./lazy-abort-controller.js";

test("a signal made after abort() starts aborted, with the reason given", () => {
  const controller = new LazyAbortController();
  const reason = new Error("cancelled");
  controller.abort(reason);
  expect(controller.aborted).toBe(true);
  expect(controller.signal.aborted).toBe(true);
  expect(controller.signal.reason).toBe(reason);
});

test("a signal made before abort() fires its listeners once, like AbortController's", () => {
  const controller = new LazyAbortController();
  const { signal } = controller;
  const reasons: unknown[] = [];
  signal.addEventListener("abort", () => reasons.push(signal.reason));
  expect(controller.aborted).toBe(false);
  controller.abort("first");
  controller.abort("second");
  expect(reasons).toEqual(["first"]);
  expect(controller.signal).toBe(signal);
});

test("abort() without a reason gives the standard AbortError", () => {
  const controller = new LazyAbortController();
  controller.abort();
  expect(controller.signal.reason).toBeInstanceOf(DOMException);
  expect((controller.signal.reason as DOMException).name).toBe("AbortError");
});
