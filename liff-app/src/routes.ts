export type Route =
  | { name: "bind" }
  | { name: "settings" }
  | { name: "order"; id: string }
  | { name: "bill"; id: string }
  | { name: "home" }
  | { name: "not_found" };

/** Paths under the app's base (/liff/). A liff.line.me/{id}/bills/… link arrives here as /liff/bills/… after init. */
export function matchRoute(pathname: string, base = "/liff"): Route {
  let p = pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  p = p.replace(/\/+$/, "") || "/";
  if (p === "/") return { name: "home" };
  if (p === "/bind") return { name: "bind" };
  if (p === "/settings") return { name: "settings" };
  const m = /^\/(orders|bills)\/([^/]+)$/.exec(p);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[2]!);
    } catch {
      return { name: "not_found" };
    }
    return m[1] === "orders" ? { name: "order", id } : { name: "bill", id };
  }
  return { name: "not_found" };
}
