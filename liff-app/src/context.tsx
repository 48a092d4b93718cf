import { createContext, useContext } from "react";
import type { Api, LiffConfig } from "./api.ts";
import type { Lang } from "./i18n.ts";
import type { LiffLike } from "./liff.ts";

export interface AppContextValue {
  api: Api;
  liff: LiffLike;
  config: LiffConfig;
  lang: Lang;
  setLang(lang: Lang): void;
  /** Client-side navigation inside /liff/ (keeps the LIFF session; no reload). */
  navigate(path: string): void;
  sandboxUser?: string | null;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error("AppContext missing");
  return v;
}
