import { sql } from "@oa-notify/db";
import type { Tx } from "@oa-notify/db";

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
  if (typeof id !== "string" || !/^U[0-9a-f]{32}$/.test(id)) throw new Error(`malformed ${event.type} event: bad source.userId`);
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
