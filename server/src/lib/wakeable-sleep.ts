/**
 * The idle wait of a polling loop (the notify worker, the webhook outbox): sleeps up to `ms`, and `wake()` ends the
 * current sleep at once (new work arrived, or the loop is stopping). A wake with nobody asleep does nothing.
 */
export class WakeableSleep {
  private waker: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waker = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waker = done;
    });
  }

  wake(): void {
    this.waker?.();
  }
}
