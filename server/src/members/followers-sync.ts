import { HTTPFetchError } from "@line/bot-sdk";
import { createDb, type Database } from "@oa-notify/db";
import { configFromProcess } from "../env.ts";
import type { Clock } from "../lib/clock.ts";
import { systemClock } from "../lib/clock.ts";
import { createLineApi, type LineApi } from "../lib/line/client.ts";
import { markFollowers } from "./line-users.ts";

export class FollowersSyncError extends Error {
  override name = "FollowersSyncError";
}

/** Pages through GET /v2/bot/followers/ids and marks every listed user a friend. */
export async function syncFollowers({
  db,
  line,
  clock = systemClock,
  pageSize = 1000,
}: {
  db: Database;
  line: LineApi;
  clock?: Clock;
  pageSize?: number;
}): Promise<{ pages: number; users: number; updated: number }> {
  const asOf = clock.now();
  let start: string | undefined;
  let pages = 0;
  let users = 0;
  let updated = 0;
  do {
    let page: Awaited<ReturnType<typeof line.client.getFollowers>>;
    try {
      page = await line.client.getFollowers(start, pageSize);
    } catch (err) {
      if (err instanceof HTTPFetchError && err.status === 403) {
        throw new FollowersSyncError(
          "LINE answered 403: the followers API is only for verified or premium Official Accounts. Friends are still tracked from follow/unfollow webhooks.",
        );
      }
      if (err instanceof HTTPFetchError) throw new FollowersSyncError(`LINE answered ${err.status} to GET /v2/bot/followers/ids: ${err.body.slice(0, 200)}`);
      throw err;
    }
    pages++;
    users += page.userIds.length;
    updated += await markFollowers({ db: db.db, userIds: page.userIds, asOf });
    start = page.next;
  } while (start);
  return { pages, users, updated };
}

// Run as `pnpm followers:sync` with the server's environment.
if (import.meta.url === `file://${process.argv[1]}`) {
  const config = configFromProcess();
  const db = await createDb({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    const r = await syncFollowers({ db, line: createLineApi({ baseUrl: config.line.apiBaseUrl, channelAccessToken: config.line.channelAccessToken }) });
    process.stdout.write(`followers sync: ${r.users} followers in ${r.pages} page(s), ${r.updated} marked friend\n`);
  } catch (err) {
    process.stderr.write(`followers sync failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
}
