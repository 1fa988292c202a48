import { expect, test } from "vitest";
import { newClient, useTestDatabase } from "../../../../test/support/database.js";
import { waitFor } from "../../../../test/support/wait.js";
import { listenReliably } from "./listener.js";

const db = useTestDatabase();

test("a channel postgres.js gave up on (its re-LISTEN failed) is listened to again", async () => {
  const sql = newClient(db.url);
  const received: string[] = [];
  const errors: unknown[] = [];
  let subscriptions = 0;
  const listener = await listenReliably(sql, "chan", (payload) => received.push(payload), {
    checkIntervalMs: 100,
    onListen: () => subscriptions++,
    onError: (error) => errors.push(error),
  });
  try {
    await sql.notify("chan", "before");
    await waitFor(() => received.includes("before"), { what: "the first message" });
    // The state postgres.js is left in when its re-LISTEN after a dropped connection fails: the
    // channel's entry holds the rejected LISTEN, and every later listen() of the channel awaits
    // that rejection.
    const internals = sql.listen as unknown as {
      channels: Record<string, unknown>;
      sql: typeof sql;
    };
    await internals.sql.unsafe('UNLISTEN "chan"'); // the new connection never listened
    const channels = internals.channels;
    const failed = Promise.reject(new Error("re-LISTEN failed"));
    failed.catch(() => {});
    // postgres.js re-registered the listener as an object of its own before the LISTEN failed.
    channels.chan = { result: failed, listeners: [{ fn: () => {} }] };
    await waitFor(() => subscriptions >= 2, { what: "the listener to subscribe again" });
    await sql.notify("chan", "after");
    await waitFor(() => received.includes("after"), { what: "a message after the recovery" });
    expect(received.filter((p) => p.startsWith("docket ping"))).toEqual([]);
  } finally {
    await listener.unlisten();
    await sql.end();
  }
});
