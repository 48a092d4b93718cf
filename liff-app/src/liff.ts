import liff from "@line/liff/core";
import GetFriendship from "@line/liff/get-friendship";
import GetIDToken from "@line/liff/get-id-token";
import IsInClient from "@line/liff/is-in-client";
import IsLoggedIn from "@line/liff/is-logged-in";
import Login from "@line/liff/login";
import type { LiffConfig } from "./api.ts";

/** The part of the LIFF SDK the pages use; the real SDK and the mocked one both fit. */
export interface LiffLike {
  isLoggedIn(): boolean;
  getIDToken(): string | null;
  getFriendship(): Promise<{ friendFlag: boolean }>;
}

export interface Session {
  liff: LiffLike;
  /** In sandbox: a new ID token for the simulated user (LIFF tokens live 1 h and are not refreshed by the SDK). */
  refreshToken?: () => Promise<void>;
  sandboxUser?: string | null;
}

// The pluggable SDK with only what we call keeps the first load small (docs/benchmarks.md: ≤ 150 KB gzipped JS).
// is-in-client goes first: the mock plugin asks it at install time.
let installed = false;
function installModules() {
  if (installed) return;
  installed = true;
  liff.use(new IsInClient());
  liff.use(new IsLoggedIn());
  liff.use(new Login());
  liff.use(new GetIDToken());
  liff.use(new GetFriendship());
}

const SANDBOX_USER_KEY = "oa-notify.sandboxUser";

/** `?sandboxUser=` wins and is kept for the tab, so in-app links need not carry it. */
export function sandboxUserFrom(search: string, storage: Pick<Storage, "getItem" | "setItem">): string | null {
  const fromUrl = new URLSearchParams(search).get("sandboxUser");
  if (fromUrl) {
    storage.setItem(SANDBOX_USER_KEY, fromUrl);
    return fromUrl;
  }
  return storage.getItem(SANDBOX_USER_KEY);
}

interface SandboxIdToken {
  idToken: string;
  userId: string;
  displayName?: string;
  friend: boolean;
}

/**
 * liff.init exactly once, before anything renders. Outside sandbox a logged-out external browser is sent to LINE
 * Login (the promise then never resolves: the page is leaving). In sandbox the @line/liff-mock plugin stands in for
 * the SDK, fed with an ID token the sandbox console mints for the chosen simulated user; the plugin is loaded only
 * then, so production pages never download it.
 */
export async function initLiff(
  config: LiffConfig,
  env: { search: string; storage: Pick<Storage, "getItem" | "setItem">; href: string; fetchImpl?: typeof fetch },
): Promise<Session> {
  installModules();
  if (!config.sandbox) {
    await liff.init({ liffId: config.liffId });
    if (!liff.isLoggedIn()) {
      liff.login({ redirectUri: env.href });
      return new Promise<Session>(() => {});
    }
    return { liff };
  }
  const { LiffMockPlugin } = await import("@line/liff-mock");
  const mocked = liff as unknown as MockedLiff;
  // The plugin is typed against the full SDK; with the pluggable core it only needs isInClient (installed above).
  liff.use(new LiffMockPlugin() as unknown as Parameters<typeof liff.use>[0]);
  await mocked.init({ liffId: config.liffId, mock: true });
  // The mock refuses getFriendship until login() has been called (a known liff-mock behaviour).
  liff.login();
  const user = sandboxUserFrom(env.search, env.storage);
  const load = async () => {
    if (!user) return;
    const res = await (env.fetchImpl ?? fetch)(`/sandbox/api/users/${encodeURIComponent(user)}/id-token`, { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`sandbox user ${user}: ${res.status}`);
    const t = (await res.json()) as SandboxIdToken;
    mocked.$mock.set((p) => ({
      ...p,
      isLoggedIn: true,
      getIDToken: t.idToken,
      getDecodedIDToken: { sub: t.userId, name: t.displayName },
      getFriendship: { friendFlag: t.friend },
    }));
  };
  await load();
  return { liff, refreshToken: load, sandboxUser: user };
}

interface MockedLiff {
  init(config: { liffId: string; mock?: boolean }): Promise<void>;
  $mock: { set(f: (prev: Record<string, unknown>) => Record<string, unknown>): void };
}
