/**
 * Group commit: callers submit one item and wait for its result; items that arrive while a write is in flight go
 * together in the next one. A caller is answered only after the statement holding its item has committed, so
 * "durable before we answer" (the webhook's 200) and "committed before the call" (the dispatcher's markers) hold
 * per item, while the database sees one statement per group instead of one per item.
 * Used by the webhook inbox and the dispatcher's hot-path transitions.
 */
export class BatchWriter<T, R> {
  private queue: { item: T; weight: number; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    /** Writes a group; returns one result per item, in order. A throw rejects every item of the group. */
    private readonly write: (items: T[]) => Promise<R[]>,
    private readonly opts: {
      /** Writes in flight at once. One is often fastest: the next group grows while the database works. */
      maxParallel?: number;
      /** Upper bound of a group, in weight units (default: one per item). */
      maxBatch?: number;
      weight?: (item: T) => number;
    } = {},
  ) {}

  submit(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, weight: this.opts.weight?.(item) ?? 1, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    const maxParallel = this.opts.maxParallel ?? 1;
    const maxBatch = this.opts.maxBatch ?? 500;
    while (this.inFlight < maxParallel && this.queue.length > 0) {
      let n = 0;
      let take = 0;
      while (take < this.queue.length && (take === 0 || n + this.queue[take]!.weight <= maxBatch)) n += this.queue[take++]!.weight;
      const group = this.queue.splice(0, take);
      this.inFlight++;
      this.write(group.map((g) => g.item))
        .then(
          (rs) => {
            for (const [i, g] of group.entries()) g.resolve(rs[i]!);
          },
          (err) => {
            for (const g of group) g.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
