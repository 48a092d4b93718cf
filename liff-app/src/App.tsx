import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Api, LiffConfig } from "./api.ts";
import { AppContext, type AppContextValue } from "./context.tsx";
import { common, initialLang, type Lang, tr } from "./i18n.ts";
import type { LiffLike } from "./liff.ts";
import { matchRoute } from "./routes.ts";

// Bind and settings are only for people who open them on purpose; a next-step page (the link in a notice) must
// load fast, so each lives in its own chunk and the next-step chunk stays small.
const BindPage = lazy(() => import("./pages/Bind.tsx"));
const SettingsPage = lazy(() => import("./pages/Settings.tsx"));
const OrderPage = lazy(() => import("./pages/NextStep.tsx").then((m) => ({ default: m.OrderPage })));
const BillPage = lazy(() => import("./pages/NextStep.tsx").then((m) => ({ default: m.BillPage })));

const LANG_KEY = "oa-notify.lang";

export interface AppProps {
  api: Api;
  liff: LiffLike;
  config: LiffConfig;
  sandboxUser?: string | null;
  /** window.location by default; tests pass their own. */
  location?: { pathname: string; search: string };
}

function readStoredLang(): string | null {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null;
  }
}

export function App(props: AppProps) {
  const [loc, setLoc] = useState(() => props.location ?? { pathname: window.location.pathname, search: window.location.search });
  const [lang, setLangState] = useState<Lang>(() => initialLang(readStoredLang(), typeof navigator === "undefined" ? undefined : navigator.language));
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  useEffect(() => {
    const onPop = () => setLoc({ pathname: window.location.pathname, search: window.location.search });
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  // After an in-app navigation, move focus to the new page's heading so screen readers announce it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation; the path is the trigger, not an input.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const t = setTimeout(() => mainRef.current?.querySelector<HTMLElement>("h1")?.focus(), 0);
    return () => clearTimeout(t);
  }, [loc.pathname]);

  const navigate = useCallback((path: string) => {
    window.history.pushState(null, "", path);
    const u = new URL(path, window.location.href);
    setLoc({ pathname: u.pathname, search: u.search });
  }, []);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(LANG_KEY, l);
    } catch {
      // private mode: the choice lasts for this page only
    }
  }, []);

  const ctx: AppContextValue = useMemo(
    () => ({ api: props.api, liff: props.liff, config: props.config, lang, setLang, navigate, sandboxUser: props.sandboxUser ?? null }),
    [props.api, props.liff, props.config, lang, setLang, navigate, props.sandboxUser],
  );
  const route = matchRoute(loc.pathname);
  const viewToken = new URLSearchParams(loc.search).get("t");
  const bindingToken = new URLSearchParams(loc.search).get("token");

  let page: React.ReactNode;
  if (props.config.sandbox && !props.sandboxUser) {
    // Without a simulated user there is no ID token: say how to get one instead of failing with 401s.
    page = (
      <section className="card">
        <h1 tabIndex={-1}>{lang === "en" ? "Choose a simulated LINE user" : "請選擇模擬的 LINE 用戶"}</h1>
        <p>
          {lang === "en"
            ? "This is the sandbox. Open the LIFF app from the console, or add ?sandboxUser=<userId> to the address."
            : "目前是沙盒模式。請從主控台開啟 LIFF 頁面，或在網址加上 ?sandboxUser=<userId>。"}
        </p>
        <a className="button button-secondary" href="/sandbox">
          {lang === "en" ? "Open the sandbox console" : "開啟沙盒主控台"}
        </a>
      </section>
    );
  } else
    switch (route.name) {
      case "bind":
        page = <BindPage bindingToken={bindingToken} />;
        break;
      case "settings":
      case "home":
        page = <SettingsPage />;
        break;
      case "order":
        page = <OrderPage id={route.id} viewToken={viewToken} />;
        break;
      case "bill":
        page = <BillPage id={route.id} viewToken={viewToken} />;
        break;
      default:
        page = (
          <section className="card">
            <h1 tabIndex={-1}>{tr(lang, common.notFoundTitle)}</h1>
            <p>{tr(lang, common.notFoundBody)}</p>
          </section>
        );
    }

  return (
    <AppContext.Provider value={ctx}>
      <a className="skip" href="#main">
        {lang === "en" ? "Skip to content" : "跳到主要內容"}
      </a>
      <header className="topbar">
        <span className="brand">{tr(lang, common.appTitle)}</span>
        <button
          type="button"
          className="link-button"
          lang={lang === "en" ? "zh-TW" : "en"}
          aria-label={tr(lang, common.switchLangLabel)}
          onClick={() => setLang(lang === "en" ? "zh-TW" : "en")}
        >
          {tr(lang, common.switchLang)}
        </button>
      </header>
      {props.config.sandbox && (
        <p className="sandbox-bar" role="note">
          {tr(lang, common.sandbox)}
          {props.sandboxUser
            ? ` · ${props.sandboxUser.slice(0, 9)}…`
            : lang === "en"
              ? " · no simulated user: open from /sandbox"
              : " · 尚未選擇模擬用戶：請從 /sandbox 開啟"}
        </p>
      )}
      <main id="main" ref={mainRef}>
        <Suspense
          fallback={
            <p className="muted" role="status">
              {tr(lang, common.loading)}
            </p>
          }
        >
          {page}
        </Suspense>
      </main>
    </AppContext.Provider>
  );
}
