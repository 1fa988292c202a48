import type { DashboardAccess, DashboardAuthorization } from "./dashboard-options.js";

/** Headers of every dashboard response: a strict Content-Security-Policy and its companions. */
export const securityHeaders: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
});

/** `authorize`'s answer in one shape; anything unexpected denies. */
export function normalizeAccess(
  answer: DashboardAccess | DashboardAuthorization | unknown,
): DashboardAuthorization {
  const access =
    typeof answer === "object" && answer !== null
      ? (answer as DashboardAuthorization).access
      : answer;
  const user =
    typeof answer === "object" && answer !== null
      ? (answer as DashboardAuthorization).user
      : undefined;
  if (access === "full" || access === "read-only") {
    return { access, user: typeof user === "string" ? user : undefined };
  }
  return { access: "deny" };
}

/**
 * Whether a state-changing request comes from the dashboard's own pages: a browser says so in
 * `Sec-Fetch-Site`, or at least sends an `Origin` whose host is the one asked. A request that
 * shows neither is refused too: a form post from a browser always carries one of them.
 */
export function isSameOrigin(headers: Headers): boolean {
  const site = headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin";
  const origin = headers.get("origin");
  const host = headers.get("host");
  if (origin === null || host === null || origin === "null") return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
