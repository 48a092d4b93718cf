import { type DbOrTx, eq, lineUsers, sql } from "@oa-notify/db";

export interface LineUserView {
  userId: string;
  friend: boolean;
  followedAt: string | null;
  unfollowedAt: string | null;
}

export async function getLineUser({ db, userId }: { db: DbOrTx; userId: string }): Promise<LineUserView | null> {
  const rows = await db.select().from(lineUsers).where(eq(lineUsers.userId, userId)).limit(1);
  const r = rows[0];
  if (!r) return null;
  return {
    userId: r.userId,
    friend: r.friend,
    followedAt: r.followedAt?.toISOString() ?? null,
    unfollowedAt: r.unfollowedAt?.toISOString() ?? null,
  };
}

/**
 * Marks users from the followers API as friends. `asOf` is when the sync started: a follow/unfollow event newer
 * than that wins over the list, which may already be stale.
 */
export async function markFollowers({ db, userIds, asOf }: { db: DbOrTx; userIds: string[]; asOf: Date }): Promise<number> {
  if (userIds.length === 0) return 0;
  const iso = asOf.toISOString();
  const values = sql.join(
    userIds.map((u) => sql`(${u}, true, ${iso}::timestamptz, ${iso}::timestamptz, 'followers_sync')`),
    sql`, `,
  );
  const res = (await db.execute(sql`
    insert into line_users (user_id, friend, followed_at, state_event_at, state_source) values ${values}
    on conflict (user_id) do update set friend = true,
      followed_at = coalesce(line_users.followed_at, excluded.followed_at),
      state_event_at = excluded.state_event_at, state_source = 'followers_sync', updated_at = now()
    where line_users.state_event_at is null or line_users.state_event_at < excluded.state_event_at
    returning user_id`)) as unknown as { rows: unknown[] };
  return res.rows.length;
}

export { eq };
