import { DatabaseTimeoutError } from "../errors.js";
import { type LongTimer, setLongTimeout } from "../validation/long-timer.js";

/**
 * Waits for a statement's answer for at most `ms`, then rejects with a
 * {@link DatabaseTimeoutError} saying `what` went unanswered. The statement itself goes on: an
 * answer that comes later goes to `onLate` (a failure after the deadline is dropped, it was
 * reported as the timeout already).
 *
 * A loop that awaits its statements (the producer's claims, the acker's batches, the heartbeat)
 * must never wait forever: on a connection gone silent the answer may take the kernel's TCP
 * timeout (minutes), and postgres.js 3.4 with a multi-host URL can lose the first query of a
 * fresh connection whose server dies, so its promise never settles at all.
 */
export function answerWithin<T>(
  statement: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let timer: LongTimer | undefined;
  let late = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setLongTimeout(() => {
      late = true;
      reject(new DatabaseTimeoutError(`the database did not answer ${what} in ${ms}ms`, ms));
    }, ms);
  });
  statement.then(
    (value) => {
      if (late) onLate?.(value);
    },
    () => undefined,
  );
  return Promise.race([statement, deadline]).finally(() => timer?.clear());
}
