import { type DbOrTx, sql } from "@oa-notify/db";
import type { Clock } from "../lib/clock.ts";
import { verifyViewToken } from "../lib/view-token.ts";
import { markSeen } from "../notify/seen.ts";

export type NextStepType = "order" | "bill";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isoOrNull = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

export interface OrderView {
  orderId: string;
  status: string;
  items: unknown;
  amountTwd: number;
  orderedAt: string | null;
  deliveryEta: string | null;
  trackingUrl: string | null;
  detail: unknown;
}
export interface BillView {
  billId: string;
  status: string;
  amountTwd: number;
  period: string | null;
  issuedAt: string | null;
  dueAt: string | null;
  paymentUrl: string | null;
  items: unknown;
  detail: unknown;
}

async function loadRecord(db: DbOrTx, type: NextStepType, id: string): Promise<{ memberId: string; view: OrderView | BillView } | null> {
  if (type === "order") {
    const r = ((await db.execute(sql`select * from orders where order_id = ${id}`)) as unknown as { rows: Record<string, any>[] }).rows[0];
    if (!r) return null;
    return {
      memberId: r.member_id,
      view: {
        orderId: r.order_id,
        status: r.status,
        items: r.items,
        amountTwd: Number(r.amount_twd),
        orderedAt: isoOrNull(r.ordered_at),
        deliveryEta: isoOrNull(r.delivery_eta),
        trackingUrl: r.tracking_url,
        detail: r.detail,
      },
    };
  }
  const r = ((await db.execute(sql`select * from bills where bill_id = ${id}`)) as unknown as { rows: Record<string, any>[] }).rows[0];
  if (!r) return null;
  return {
    memberId: r.member_id,
    view: {
      billId: r.bill_id,
      status: r.status,
      amountTwd: Number(r.amount_twd),
      period: r.period,
      issuedAt: isoOrNull(r.issued_at),
      dueAt: isoOrNull(r.due_at),
      paymentUrl: r.payment_url,
      items: r.items,
      detail: r.detail,
    },
  };
}

/**
 * The notification a view token was issued for, if the token is genuine and names exactly this order or bill and
 * that notification's next step really is this record (and, when the notice had a member, that member owns it).
 */
export async function viewTokenNotification(
  db: DbOrTx,
  {
    appSecret,
    clock,
    token,
    type,
    id,
    ownerMemberId,
  }: {
    appSecret: string;
    clock: Clock;
    token: string;
    type: NextStepType;
    id: string;
    ownerMemberId: string;
  },
): Promise<string | null> {
  const claims = await verifyViewToken(appSecret, token, clock.now());
  if (!claims || claims.type !== type || claims.id !== id || !UUID.test(claims.nid)) return null;
  const n = (
    (await db.execute(sql`select member_id from notifications
    where id = ${claims.nid} and next_step->>'type' = ${type} and next_step->>'id' = ${id}`)) as unknown as { rows: { member_id: string | null }[] }
  ).rows[0];
  if (!n) return null;
  if (n.member_id && n.member_id !== ownerMemberId) return null;
  return claims.nid;
}

/**
 * An order or bill for a LIFF caller: the bound owner, or the holder of a valid view token for that very notice.
 * Anything else is null (the route answers 404 whether or not the record exists). A view through a token records
 * "seen" on its notification, which cancels a pending SMS fallback.
 */
export async function readNextStep(
  db: DbOrTx,
  {
    clock,
    appSecret,
    type,
    id,
    lineUserId,
    viewToken,
  }: {
    clock: Clock;
    appSecret: string;
    type: NextStepType;
    id: string;
    lineUserId: string;
    viewToken: string | undefined;
  },
): Promise<{ record: OrderView | BillView; viewer: { access: "owner" | "view_token"; bound: boolean } } | null> {
  const record = await loadRecord(db, type, id);
  const bound = ((await db.execute(sql`select member_id from members where line_user_id = ${lineUserId}`)) as unknown as { rows: { member_id: string }[] })
    .rows[0];
  if (!record) return null;
  const owner = bound?.member_id === record.memberId;
  const nid = viewToken ? await viewTokenNotification(db, { appSecret, clock, token: viewToken, type, id, ownerMemberId: record.memberId }) : null;
  if (!owner && !nid) return null;
  if (nid) await markSeen({ db, clock, notificationId: nid });
  return { record: record.view, viewer: { access: owner ? "owner" : "view_token", bound: Boolean(bound) } };
}
