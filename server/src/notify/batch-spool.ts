import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/**
 * A batch's validated items between reading the body and the transaction that inserts them: one JSON line each in
 * a private temporary directory (`TMPDIR`), removed when the request ends however it ends. Disk rather than memory
 * so that several slow uploads at once keep the server's memory flat (docs/decisions/0006-batch-spool.md).
 */
export class Spool {
  private constructor(
    private readonly dir: string,
    private readonly file: string,
    private readonly out: WriteStream,
  ) {}

  static async create(): Promise<Spool> {
    const dir = await mkdtemp(join(tmpdir(), "oa-batch-"));
    const file = join(dir, "items.ndjson");
    const out = createWriteStream(file, { mode: 0o600 });
    await once(out, "open");
    return new Spool(dir, file, out);
  }

  /** Appends lines; waits when the file stream is behind (its backpressure). */
  async write(lines: string): Promise<void> {
    if (!this.out.write(lines)) await once(this.out, "drain");
  }

  /** Closes the file and yields its items in groups of `size`. */
  async *read<T>(size: number): AsyncGenerator<T[]> {
    if (!this.out.closed) await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    let group: T[] = [];
    for await (const line of lines) {
      if (line.length === 0) continue;
      group.push(JSON.parse(line) as T);
      if (group.length >= size) {
        yield group;
        group = [];
      }
    }
    if (group.length > 0) yield group;
  }

  async remove(): Promise<void> {
    this.out.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}
