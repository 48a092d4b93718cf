export interface LiffConfig {
  liffId: string;
  apiBase: string;
  sandbox: boolean;
  addFriendUrl: string | null;
  consentVersion?: string;
}

export interface Me {
  lineUserId: string;
  member: { memberId: string; phone: string | null; boundAt: string | null } | null;
  friend: boolean;
}
export interface ConsentEntry {
  at: string;
  action: "grant" | "withdraw" | string;
  purpose: string;
  noticeVersion: string;
  method: string;
  memberId: string;
}
export interface Viewer {
  access: "owner" | "view_token";
  bound: boolean;
}
export interface Order {
  orderId: string;
  status: string;
  items: { name: string; quantity: number; unitPriceTwd: number }[];
  amountTwd: number;
  orderedAt: string | null;
  deliveryEta: string | null;
  trackingUrl: string | null;
  viewer: Viewer;
}
export interface Bill {
  billId: string;
  status: string;
  amountTwd: number;
  period: string | null;
  issuedAt: string | null;
  dueAt: string | null;
  paymentUrl: string | null;
  items: { name: string; amountTwd: number }[] | null;
  viewer: Viewer;
}
export type BindBody = ({ bindingToken: string } | { phone: string; otp: string }) & { consent: { version: string; accepted: true } };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface Api {
  me(): Promise<Me>;
  consents(): Promise<{ items: ConsentEntry[] }>;
  requestOtp(phone: string): Promise<{ sent: boolean; expiresAt: string }>;
  bind(body: BindBody): Promise<{ memberId: string; boundAt: string }>;
  unbind(): Promise<void>;
  requestPhoneChangeOtp(phone: string): Promise<{ sent: boolean; expiresAt: string }>;
  changePhone(body: { phone: string; otp: string }): Promise<{ memberId: string; phone: string }>;
  order(id: string, viewToken: string | null): Promise<Order>;
  bill(id: string, viewToken: string | null): Promise<Bill>;
  friendPrompt(body: { viewToken?: string; page?: "order" | "bill" | "bind" | "settings" }): Promise<void>;
}

/**
 * The /liff-api client. Only the raw LIFF ID token goes to the server (never the decoded one). When a token has
 * expired (LIFF does not refresh it) `refreshToken` may fetch a new one once, then the call is retried.
 */
export function createApi(opts: { apiBase: string; idToken: () => string | null; refreshToken?: () => Promise<void>; fetchImpl?: typeof fetch }): Api {
  const f = opts.fetchImpl ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  async function call<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const token = opts.idToken();
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers["authorization"] = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await f(`${opts.apiBase}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && opts.refreshToken && !retried) {
      await opts.refreshToken();
      return call<T>(method, path, body, true);
    }
    if (res.status === 204) return undefined as T;
    const json = (await res.json().catch(() => null)) as { error?: { code: string; message: string; details?: unknown } } | null;
    if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? "error", json?.error?.message ?? res.statusText, json?.error?.details);
    return json as T;
  }
  const q = (t: string | null) => (t ? `?t=${encodeURIComponent(t)}` : "");
  return {
    me: () => call("GET", "/me"),
    consents: () => call("GET", "/consents"),
    requestOtp: (phone) => call("POST", "/otp", { phone }),
    bind: (body) => call("POST", "/bindings", body),
    unbind: () => call("DELETE", "/bindings"),
    requestPhoneChangeOtp: (phone) => call("POST", "/phone/otp", { phone }),
    changePhone: (body) => call("POST", "/phone", body),
    order: (id, t) => call("GET", `/orders/${encodeURIComponent(id)}${q(t)}`),
    bill: (id, t) => call("GET", `/bills/${encodeURIComponent(id)}${q(t)}`),
    friendPrompt: async (body) => {
      await call("POST", "/friend-prompts", body);
    },
  };
}
