/**
 * Event-driven bounded waits: a waiter re-checks its condition whenever its source calls wake()
 * (new bytes, end of stream, exit), and gives up at its deadline. No polling, no sleeps.
 */
export class Waiters {
  private readonly checks = new Set<() => void>();

  wake(): void {
    for (const check of [...this.checks]) check();
  }

  /**
   * Resolves with poll()'s first value other than undefined; rejects if poll() throws
   * (the condition can no longer come true) or with timeoutError() after `ms`.
   */
  until<T>(poll: () => T | undefined, ms: number, timeoutError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const settle = (fn: () => void): void => {
        clearTimeout(timer);
        this.checks.delete(check);
        fn();
      };
      const check = (): void => {
        let value: T | undefined;
        try {
          value = poll();
        } catch (err) {
          settle(() => reject(err));
          return;
        }
        if (value !== undefined) settle(() => resolve(value));
      };
      const timer = setTimeout(() => settle(() => reject(timeoutError())), Math.max(0, ms));
      this.checks.add(check);
      check();
    });
  }
}
