import { describe, expect, test } from "vitest";
import { CronSchedule, normalizeCronExpression } from "./cron-expression.js";

const at = (iso: string) => new Date(iso);

describe("CronSchedule", () => {
  test("latest is the slot at or before now; next the first after", () => {
    const hourly = new CronSchedule("0 * * * *");
    expect(hourly.latest(at("2026-11-22T10:30:00Z"))).toEqual(at("2026-11-22T10:00:00Z"));
    expect(hourly.latest(at("2026-11-22T10:00:00Z"))).toEqual(at("2026-11-22T10:00:00Z"));
    expect(hourly.next(at("2026-11-22T10:00:00Z"))).toEqual(at("2026-11-22T11:00:00Z"));
    expect(hourly.next(at("2026-11-22T10:59:59.999Z"))).toEqual(at("2026-11-22T11:00:00Z"));
  });

  test("nicknames and a seconds field", () => {
    expect(new CronSchedule("@daily").latest(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-11-22T00:00:00Z"),
    );
    expect(new CronSchedule("@midnight").latest(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-11-22T00:00:00Z"),
    );
    expect(new CronSchedule("@HOURLY").next(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-11-22T11:00:00Z"),
    );
    expect(new CronSchedule("@monthly").latest(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-11-01T00:00:00Z"),
    );
    expect(new CronSchedule("@weekly").latest(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-11-22T00:00:00Z"),
    ); // a Sunday
    expect(new CronSchedule("@yearly").latest(at("2026-11-22T10:30:00Z"))).toEqual(
      at("2026-01-01T00:00:00Z"),
    );
    expect(new CronSchedule("*/15 * * * * *").latest(at("2026-11-22T10:30:44Z"))).toEqual(
      at("2026-11-22T10:30:30Z"),
    );
  });

  test("time zones: slots are the zone's wall-clock times, across daylight saving", () => {
    const nineInTokyo = new CronSchedule("0 9 * * *", "Asia/Tokyo");
    expect(nineInTokyo.latest(at("2026-11-22T10:30:00Z"))).toEqual(at("2026-11-22T00:00:00Z"));
    const berlin = new CronSchedule("0 3 * * *", "Europe/Berlin");
    // Summer time (UTC+2) before 25 October 2026, winter time (UTC+1) after.
    expect(berlin.latest(at("2026-10-24T12:00:00Z"))).toEqual(at("2026-10-24T01:00:00Z"));
    expect(berlin.latest(at("2026-10-26T12:00:00Z"))).toEqual(at("2026-10-26T02:00:00Z"));
  });

  test("between lists the slots after one time up to another, oldest first, capped to the latest", () => {
    const fiveMinutes = new CronSchedule("*/5 * * * *");
    expect(fiveMinutes.between(at("2026-11-22T10:00:00Z"), at("2026-11-22T10:17:00Z"), 10)).toEqual(
      [at("2026-11-22T10:05:00Z"), at("2026-11-22T10:10:00Z"), at("2026-11-22T10:15:00Z")],
    );
    expect(fiveMinutes.between(at("2026-11-22T10:00:00Z"), at("2026-11-22T10:17:00Z"), 2)).toEqual([
      at("2026-11-22T10:10:00Z"),
      at("2026-11-22T10:15:00Z"),
    ]);
  });
});

describe("normalizeCronExpression", () => {
  test("accepts five or six fields and nicknames, refuses the rest with a reason", () => {
    expect(normalizeCronExpression("0 * * * *")).toEqual({ fields: "0 * * * *" });
    expect(normalizeCronExpression(" 0 0 * * * * ")).toEqual({ fields: "0 0 * * * *" });
    expect(normalizeCronExpression("@daily")).toEqual({ fields: "0 0 * * *" });
    expect(normalizeCronExpression("* * *")).toEqual({
      problem: expect.stringContaining('"* * *" has 3 fields; write five'),
    });
    expect(normalizeCronExpression("@reboot")).toEqual({
      problem: expect.stringContaining('unknown nickname "@reboot"; use one of @yearly'),
    });
    expect(normalizeCronExpression("61 * * * *")).toEqual({
      problem:
        '"61 * * * *" is not a valid cron expression: Constraint error, got value 61 expected range 0-59',
    });
  });
});
