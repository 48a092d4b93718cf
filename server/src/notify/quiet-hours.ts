import type { Config } from "../env.ts";
import type { Urgency } from "./input.ts";
import { taipeiTime } from "./render.ts";

/** Asia/Taipei is UTC+8 all year (no daylight saving time). */
const TAIPEI_OFFSET_MIN = 8 * 60;
const DAY_MIN = 24 * 60;

/**
 * Quiet hours for a fallback SMS (SMS_QUIET_HOURS, default 21:30-08:00 Asia/Taipei; docs/routing.md): an SMS due
 * inside the window goes at its end instead. Only for `day` and `days`: `minutes` and `hour` notices cannot wait.
 * Returns the moved time, or null when `at` is outside the window (or quiet hours do not apply).
 */
export function quietHoursEnd(at: Date, urgency: Urgency, window: Config["smsQuietHours"]): Date | null {
  if (!window || urgency === "minutes" || urgency === "hour") return null;
  const { startMinute: s, endMinute: e } = window;
  const minute = (((Math.floor(at.getTime() / 60_000) + TAIPEI_OFFSET_MIN) % DAY_MIN) + DAY_MIN) % DAY_MIN;
  const inside = s < e ? minute >= s && minute < e : minute >= s || minute < e;
  if (!inside) return null;
  const wait = (((e - minute) % DAY_MIN) + DAY_MIN) % DAY_MIN;
  const end = new Date((Math.floor(at.getTime() / 60_000) + wait) * 60_000);
  return end;
}

/** "21:30-08:00", for the timeline. */
export const quietWindowText = (w: NonNullable<Config["smsQuietHours"]>) => {
  const f = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${f(w.startMinute)}-${f(w.endMinute)} Asia/Taipei`;
};

/** The timeline's words for a fallback SMS moved out of the quiet hours. */
export function quietDetail(w: NonNullable<Config["smsQuietHours"]>, due: Date, until: Date): Record<string, unknown> {
  return {
    reason: `the fallback SMS was due in the quiet hours (${quietWindowText(w)}): it goes at their end`,
    dueAt: due.toISOString(),
    smsAt: until.toISOString(),
    smsAtTaipei: taipeiTime(until),
  };
}

/**
 * When a notice's fallback SMS is due, counted from `now` (when its send starts: for a scheduled notice, its sendAt),
 * moved to the end of the quiet hours if it falls inside them (a LINE leg's fallback only), with the timeline's words.
 */
export function fallbackSmsDue(
  now: Date,
  decision: { channel: string; smsAfterSeconds: number | null },
  urgency: Urgency,
  window: Config["smsQuietHours"],
): { deadline: Date | null; quiet: Record<string, unknown> | null } {
  const due = decision.smsAfterSeconds === null ? null : new Date(now.getTime() + decision.smsAfterSeconds * 1000);
  const quietEnd = due && decision.channel !== "sms" ? quietHoursEnd(due, urgency, window) : null;
  if (!due || !quietEnd || !window) return { deadline: due, quiet: null };
  return { deadline: quietEnd, quiet: quietDetail(window, due, quietEnd) };
}
