import { type CronExpression, CronExpressionParser } from "cron-parser";

/**
 * Cron expressions as docket accepts them: five fields (minute hour day-of-month month
 * day-of-week), six with a leading seconds field, or a nickname. Parsing is done by cron-parser;
 * this file adds the checks it leaves out (it fills in missing fields) and the questions the
 * scheduler asks: which slot is the latest due, and when the next one comes.
 */

/** Nicknames and the expressions they stand for. */
const nicknames: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** The nicknames accepted in place of an expression. */
export const cronNicknames = Object.freeze(Object.keys(nicknames));

/**
 * Checks an expression and returns it in five- or six-field form, or a message saying what is
 * wrong with it.
 */
export function normalizeCronExpression(
  expression: string,
): { fields: string } | { problem: string } {
  const text = expression.trim();
  if (text.startsWith("@")) {
    const fields = nicknames[text.toLowerCase()];
    return fields
      ? { fields }
      : {
          problem: `unknown nickname ${JSON.stringify(text)}; use one of ${cronNicknames.join(", ")}`,
        };
  }
  const count = text.split(/\s+/).filter(Boolean).length;
  if (count !== 5 && count !== 6) {
    return {
      problem: `${JSON.stringify(text)} has ${count} field${count === 1 ? "" : "s"}; write five (minute hour day-of-month month day-of-week), six with seconds first, or a nickname such as @hourly`,
    };
  }
  try {
    CronExpressionParser.parse(text, { tz: "UTC" }).next();
  } catch (error) {
    return {
      problem: `${JSON.stringify(text)} is not a valid cron expression: ${(error as Error).message}`,
    };
  }
  return { fields: text };
}

/** Tells whether the runtime knows a time zone (IANA names such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * One parsed expression in one time zone. Slots are the instants the expression names; a slot
 * is due once it is not in the future.
 *
 * @example
 * ```ts
 * const hourly = new CronSchedule("@hourly", "Europe/Berlin");
 * hourly.latest(new Date("2026-11-22T10:30:00Z")); // 2026-11-22T10:00:00.000Z
 * hourly.next(new Date("2026-11-22T10:30:00Z"));   // 2026-11-22T11:00:00.000Z
 * ```
 */
export class CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  readonly #fields: string;

  /** @throws Error with a message naming the problem; callers turn it into a ConfigError. */
  constructor(expression: string, timezone = "UTC") {
    const normalized = normalizeCronExpression(expression);
    if ("problem" in normalized) throw new Error(normalized.problem);
    if (!isTimeZone(timezone)) throw new Error(`unknown time zone ${JSON.stringify(timezone)}`);
    this.expression = expression;
    this.timezone = timezone;
    this.#fields = normalized.fields;
  }

  /** The latest slot at or before `now`, or undefined if there is none. */
  latest(now: Date): Date | undefined {
    // cron-parser's prev() excludes the current instant: start just after it.
    const cron = this.#parse(new Date(now.getTime() + 1));
    return cron.hasPrev() ? cron.prev().toDate() : undefined;
  }

  /** The first slot after `now`. */
  next(now: Date): Date | undefined {
    const cron = this.#parse(now);
    return cron.hasNext() ? cron.next().toDate() : undefined;
  }

  /**
   * The slots after `after` and at or before `now`, oldest first; at most `max` of them, the
   * most recent ones when there are more.
   */
  between(after: Date, now: Date, max: number): Date[] {
    const slots: Date[] = [];
    const cron = this.#parse(new Date(now.getTime() + 1));
    while (slots.length < max && cron.hasPrev()) {
      const slot = cron.prev().toDate();
      if (slot.getTime() <= after.getTime()) break;
      slots.push(slot);
    }
    return slots.reverse();
  }

  #parse(currentDate: Date): CronExpression {
    return CronExpressionParser.parse(this.#fields, { currentDate, tz: this.timezone });
  }
}
