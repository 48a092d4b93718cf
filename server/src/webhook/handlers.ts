import { pgArray, sql, type Tx } from "@oa-notify/db";
import { isLineUserId } from "../lib/ids.ts";

export interface EventContext {
  tx: Tx;
  event: Record<string, any>;
  /** When the event occurred (LINE's `timestamp`), falling back to when we received it. */
  at: Date;
}
export type EventHandler = (ctx: EventContext) => Promise<void>;

/** The user of a 1:1 event; a user source without a proper user id is malformed and fails the event. */
function userIdOf(event: Record<string, any>): string | null {
  if (event.source?.type !== "user") return null;
  const id = event.source.userId;
  if (!isLineUserId(id)) throw new Error(`malformed ${event.type} event: bad source.userId`);
  return id;
}

/**
 * Friend state is decided by the event's own timestamp: the update applies only when it is newer than the event
 * that set the current state, so a late or redelivered older follow/unfollow never overrides a newer one.
 */
async function setFriendState(tx: Tx, userId: string, friend: boolean, at: Date, isUnblocked: boolean | null) {
  const iso = at.toISOString();
  // One round trip: the upsert, and for a follow the add-friend conversion (a follow after a LIFF prompt).
  await tx.execute(sql`
    with upsert as (
      insert into line_users (user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, state_source, updated_at)
      values (${userId}, ${friend}, ${isUnblocked}, ${friend ? iso : null}::timestamptz, ${friend ? null : iso}::timestamptz,
              ${iso}::timestamptz, 'webhook', now())
      on conflict (user_id) do update set
        friend = excluded.friend,
        is_unblocked = coalesce(excluded.is_unblocked, line_users.is_unblocked),
        followed_at = coalesce(excluded.followed_at, line_users.followed_at),
        unfollowed_at = coalesce(excluded.unfollowed_at, line_users.unfollowed_at),
        state_event_at = excluded.state_event_at,
        state_source = 'webhook',
        updated_at = now()
      where line_users.state_event_at is null or line_users.state_event_at < excluded.state_event_at
      returning user_id
    ), conversion as (
      update friend_prompts set converted_at = ${iso}::timestamptz
      where ${friend} and line_user_id = ${userId} and converted_at is null and prompted_at <= ${iso}::timestamptz
      returning id
    )
    select (select count(*) from upsert) as changed, (select count(*) from conversion) as converted`);
}

async function touchUser(tx: Tx, userId: string, at: Date) {
  await tx.execute(sql`
    insert into line_users (user_id, friend, last_message_at) values (${userId}, false, ${at.toISOString()}::timestamptz)
    on conflict (user_id) do update set
      last_message_at = greatest(line_users.last_message_at, excluded.last_message_at), updated_at = now()`);
}

export const defaultHandlers: Record<string, EventHandler> = {
  async follow({ tx, event, at }) {
    const userId = userIdOf(event);
    if (!userId) return;
    const isUnblocked = typeof event.follow?.isUnblocked === "boolean" ? event.follow.isUnblocked : null;
    await setFriendState(tx, userId, true, at, isUnblocked);
  },
  async unfollow({ tx, event, at }) {
    const userId = userIdOf(event);
    if (!userId) return;
    await setFriendState(tx, userId, false, at, null);
  },
  // PNP recipients can message the OA without being friends: remember them, never make them friends.
  async message({ tx, event, at }) {
    const userId = userIdOf(event);
    if (userId) await touchUser(tx, userId, at);
  },
  async postback({ tx, event, at }) {
    const userId = userIdOf(event);
    if (userId) await touchUser(tx, userId, at);
  },
  // Delivery events stay in the inbox; the notifier matches them on `delivery.data` (our tag), see the notifier's
  // delivery handler, which replaces this one when the notifier is wired in.
  async delivery() {},
};

/** An event the bulk path can take: a follow/unfollow/message/postback with a well-formed 1:1 source. */
export interface BulkEvent {
  type: string;
  event: Record<string, any>;
  at: Date;
}

export const bulkTypes = new Set(["follow", "unfollow", "message", "postback"]);

/** True when the bulk path may take the event; malformed ones go one by one, so they fail alone. */
export function bulkable(e: { type: string; event: Record<string, any> }): boolean {
  if (!bulkTypes.has(e.type)) return false;
  if (e.event.source?.type !== "user") return true; // group/room: nothing to record
  return isLineUserId(e.event.source.userId);
}

/**
 * Exactly the effect of running the default handlers one event at a time in id order, in three or four statements
 * for a whole batch: lock the users' rows, replay the events on them in memory (the same timestamp guard as the
 * single path), write the results back in one upsert, and mark add-friend conversions.
 */
export async function applyBulk(tx: Tx, events: BulkEvent[]): Promise<void> {
  type State = {
    friend: boolean;
    isUnblocked: boolean | null;
    followedAt: string | null;
    unfollowedAt: string | null;
    stateEventAt: string | null;
    lastMessageAt: string | null;
    stateChanged: boolean;
  };
  const userEvents = events.filter((e) => e.event.source?.type === "user");
  if (userEvents.length === 0) return;
  const userIds = [...new Set(userEvents.map((e) => e.event.source.userId as string))];
  const current = (await tx.execute(sql`
    select user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, last_message_at from line_users
    where user_id = any(${pgArray(userIds)}::text[]) for update`)) as unknown as {
    rows: {
      user_id: string;
      friend: boolean;
      is_unblocked: boolean | null;
      followed_at: unknown;
      unfollowed_at: unknown;
      state_event_at: unknown;
      last_message_at: unknown;
    }[];
  };
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
  const states = new Map<string, State>();
  for (const r of current.rows) {
    states.set(r.user_id, {
      friend: r.friend,
      isUnblocked: r.is_unblocked,
      followedAt: iso(r.followed_at),
      unfollowedAt: iso(r.unfollowed_at),
      stateEventAt: iso(r.state_event_at),
      lastMessageAt: iso(r.last_message_at),
      stateChanged: false,
    });
  }
  const follows: { userId: string; at: string; ord: number }[] = [];
  userEvents.forEach(({ type, event, at }, ord) => {
    const userId: string = event.source.userId;
    const t = at.toISOString();
    const s = states.get(userId) ?? {
      friend: false,
      isUnblocked: null,
      followedAt: null,
      unfollowedAt: null,
      stateEventAt: null,
      lastMessageAt: null,
      stateChanged: false,
    };
    states.set(userId, s);
    if (type === "message" || type === "postback") {
      if (!s.lastMessageAt || s.lastMessageAt < t) s.lastMessageAt = t;
      return;
    }
    const follow = type === "follow";
    if (follow) follows.push({ userId, at: t, ord });
    if (s.stateEventAt !== null && s.stateEventAt >= t) return; // older than the state we hold: ignored
    s.friend = follow;
    if (follow) {
      s.followedAt = t;
      if (typeof event.follow?.isUnblocked === "boolean") s.isUnblocked = event.follow.isUnblocked;
    } else s.unfollowedAt = t;
    s.stateEventAt = t;
    s.stateChanged = true;
  });
  const rows = [...states.entries()];
  const col = <T>(f: (s: State) => T) => rows.map(([, s]) => f(s));
  const bool = (b: boolean | null) => (b === null ? null : b ? "t" : "f");
  // Existing rows are locked above, so their replayed state is final. A row another transaction inserted since
  // takes ours only where ours is newer (the single path's guard), and keeps the greater last_message_at.
  await tx.execute(sql`
    insert into line_users (user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, state_source, last_message_at, updated_at)
    select user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, case when changed then 'webhook' end, last_message_at, now()
    from unnest(${pgArray(rows.map(([u]) => u))}::text[], ${pgArray(col((s) => bool(s.friend)))}::boolean[],
      ${pgArray(col((s) => bool(s.isUnblocked)))}::boolean[], ${pgArray(col((s) => s.followedAt))}::timestamptz[],
      ${pgArray(col((s) => s.unfollowedAt))}::timestamptz[], ${pgArray(col((s) => s.stateEventAt))}::timestamptz[],
      ${pgArray(col((s) => bool(s.stateChanged)))}::boolean[], ${pgArray(col((s) => s.lastMessageAt))}::timestamptz[])
      as t(user_id, friend, is_unblocked, followed_at, unfollowed_at, state_event_at, changed, last_message_at)
    on conflict (user_id) do update set
      friend = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) then excluded.friend else line_users.friend end,
      is_unblocked = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) then excluded.is_unblocked else line_users.is_unblocked end,
      followed_at = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) then excluded.followed_at else line_users.followed_at end,
      unfollowed_at = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) then excluded.unfollowed_at else line_users.unfollowed_at end,
      state_event_at = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) then excluded.state_event_at else line_users.state_event_at end,
      state_source = case when (line_users.state_event_at is null or excluded.state_event_at >= line_users.state_event_at) and excluded.state_source is not null then excluded.state_source else line_users.state_source end,
      last_message_at = greatest(line_users.last_message_at, excluded.last_message_at),
      updated_at = now()`);
  if (follows.length > 0) {
    // As one by one: a prompt converts at the first follow (in event order) that came after it.
    await tx.execute(sql`
      with f as (
        select * from unnest(${pgArray(follows.map((f) => f.userId))}::text[], ${pgArray(follows.map((f) => f.at))}::timestamptz[],
          ${pgArray(follows.map((f) => String(f.ord)))}::int[]) as t(user_id, at, ord)
      )
      update friend_prompts fp set converted_at = (
        select f.at from f where f.user_id = fp.line_user_id and f.at >= fp.prompted_at order by f.ord limit 1)
      where fp.converted_at is null and fp.line_user_id = any(${pgArray([...new Set(follows.map((f) => f.userId))])}::text[])
        and exists (select 1 from f where f.user_id = fp.line_user_id and f.at >= fp.prompted_at)`);
  }
}
