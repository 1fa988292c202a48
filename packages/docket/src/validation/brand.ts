/**
 * Brands for docket's values that may cross copies of the package. An application's worker
 * modules can resolve another copy of docket than the one that runs them (the CLI's, say): its
 * classes are other classes, so `instanceof` fails. A brand is a property under a registered
 * symbol (`Symbol.for`), which is one symbol in every copy and every realm.
 */

/** Marks what `snooze()` returns. */
export const snoozeBrand: unique symbol = Symbol.for("docket.snooze");
/** Marks what `cancel()` returns. */
export const cancelBrand: unique symbol = Symbol.for("docket.cancel");
/** Marks what `defineWorker()` returns. */
export const workerBrand: unique symbol = Symbol.for("docket.worker");
/** Marks what `defineCleanupTarget()` returns. */
export const cleanupTargetBrand: unique symbol = Symbol.for("docket.cleanup-target");

/**
 * Tells whether `value` carries `brand`, whichever copy of docket made it.
 *
 * @example
 * ```ts
 * if (hasBrand(result, snoozeBrand)) delayMs = result.delayMs;
 * ```
 */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}
