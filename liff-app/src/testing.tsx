import type { Api, Bill, BindBody, ConsentEntry, Me, Order, Viewer } from "./api.ts";
import { ApiError } from "./api.ts";

/** An order or bill as the fake stores it: the record and the member who owns it (never sent to the page). */
export type Owned<T> = Omit<T, "viewer"> & { memberId: string };

/**
 * An in-memory stand-in for /liff-api with the server's rules that the pages depend on (consent required, one
 * code, attempts left, 404 for what is not yours). Passed to <App api=…>: no module is mocked.
 */
export class FakeApi implements Api {
  member: Me["member"] = null;
  friend = false;
  ledger: ConsentEntry[] = [];
  orders = new Map<string, Owned<Order>>();
  bills = new Map<string, Owned<Bill>>();
  viewTokens = new Map<string, string>(); // token → "bill:<id>" or "order:<id>"
  calls: { method: string; args: unknown[] }[] = [];
  otpCode = "123456";
  attemptsLeft = 5;
  validLinkTokens = new Set<string>(["good-link-token"]);

  private log(method: string, ...args: unknown[]) {
    this.calls.push({ method, args });
  }
  callsTo(method: string) {
    return this.calls.filter((c) => c.method === method);
  }
  async me(): Promise<Me> {
    this.log("me");
    return { lineUserId: "U0123456789abcdef0123456789abcdef", member: this.member, friend: this.friend };
  }
  async consents() {
    this.log("consents");
    return { items: [...this.ledger].reverse() };
  }
  async requestOtp(phone: string) {
    this.log("requestOtp", phone);
    if (!/^09\d{8}$/.test(phone.replace(/\D/g, ""))) throw new ApiError(400, "validation_failed", "body.phone: not a phone number");
    return { sent: true, expiresAt: new Date(Date.now() + 300_000).toISOString() };
  }
  async requestPhoneChangeOtp(phone: string) {
    this.log("requestPhoneChangeOtp", phone);
    if (!this.member) throw new ApiError(404, "not_found", "binding not found");
    if (!/^09\d{8}$/.test(phone.replace(/\D/g, ""))) throw new ApiError(400, "validation_failed", "body.phone: not a phone number");
    return { sent: true, expiresAt: new Date(Date.now() + 300_000).toISOString() };
  }
  async changePhone(body: { phone: string; otp: string }) {
    this.log("changePhone", body);
    if (!this.member) throw new ApiError(404, "not_found", "binding not found");
    if (body.otp !== this.otpCode) throw new ApiError(400, "bad_request", "wrong");
    const digits = body.phone.replace(/\D/g, "");
    this.member = { ...this.member, phone: `+886*****${digits.slice(-3)}` };
    return { memberId: this.member.memberId, phone: this.member.phone! };
  }
  async bind(body: BindBody) {
    this.log("bind", body);
    if (!body.consent?.accepted) throw new ApiError(400, "validation_failed", "consent");
    if ("bindingToken" in body) {
      if (!this.validLinkTokens.delete(body.bindingToken)) throw new ApiError(409, "conflict", "used");
    } else {
      if (this.attemptsLeft <= 0) throw new ApiError(429, "rate_limited", "locked");
      if (body.otp !== this.otpCode) {
        this.attemptsLeft--;
        throw new ApiError(400, "bad_request", "wrong", { attemptsLeft: this.attemptsLeft });
      }
    }
    const at = new Date().toISOString();
    this.member = { memberId: "M-1001", phone: "+886*****678", boundAt: at };
    this.ledger.push({
      at,
      action: "grant",
      purpose: "p",
      noticeVersion: body.consent.version,
      method: "bindingToken" in body ? "binding_link" : "otp",
      memberId: "M-1001",
    });
    return { memberId: "M-1001", boundAt: at };
  }
  async unbind() {
    this.log("unbind");
    if (!this.member) throw new ApiError(404, "not_found", "binding not found");
    this.ledger.push({
      at: new Date().toISOString(),
      action: "withdraw",
      purpose: "p",
      noticeVersion: "2026-11-26.v1",
      method: "liff",
      memberId: this.member.memberId,
    });
    this.member = null;
  }
  /**
   * As the server's readNextStep: readable by the bound member who owns it, or with a view token for this very record;
   * anything else is null (404, whether or not it exists). An owner is "owner" even when a token came along.
   */
  private viewer(kind: "order" | "bill", id: string, ownerId: string, t: string | null): Viewer | null {
    const owner = this.member !== null && this.member.memberId === ownerId;
    const byToken = t !== null && this.viewTokens.get(t) === `${kind}:${id}`;
    if (!owner && !byToken) return null;
    return { access: owner ? "owner" : "view_token", bound: this.member !== null };
  }
  async order(id: string, t: string | null): Promise<Order> {
    this.log("order", id, t);
    const o = this.orders.get(id);
    const v = o && this.viewer("order", id, o.memberId, t);
    if (!o || !v) throw new ApiError(404, "not_found", "order not found");
    const { memberId: _owner, ...record } = o;
    return { ...record, viewer: v };
  }
  async bill(id: string, t: string | null): Promise<Bill> {
    this.log("bill", id, t);
    const b = this.bills.get(id);
    const v = b && this.viewer("bill", id, b.memberId, t);
    if (!b || !v) throw new ApiError(404, "not_found", "bill not found");
    const { memberId: _owner, ...record } = b;
    return { ...record, viewer: v };
  }
  async friendPrompt(body: { viewToken?: string; page?: string }) {
    this.log("friendPrompt", body);
  }
}
