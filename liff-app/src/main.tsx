import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { createApi, type LiffConfig } from "./api.ts";
import { initLiff } from "./liff.ts";
import "./styles.css";

async function start() {
  const root = document.getElementById("root")!;
  try {
    const res = await fetch("/liff-config", { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`/liff-config ${res.status}`);
    const config = (await res.json()) as LiffConfig;
    const session = await initLiff(config, { search: window.location.search, storage: window.sessionStorage, href: window.location.href });
    const api = createApi({
      apiBase: config.apiBase,
      idToken: () => session.liff.getIDToken(),
      ...(session.refreshToken ? { refreshToken: session.refreshToken } : {}),
    });
    createRoot(root).render(<App api={api} liff={session.liff} config={config} sandboxUser={session.sandboxUser ?? null} />);
  } catch (err) {
    // Before React: plain DOM, both languages.
    console.error(err);
    root.innerHTML = "";
    const p = document.createElement("p");
    p.className = "boot error";
    p.setAttribute("role", "alert");
    p.textContent = "無法開啟，請稍後再試。 We could not open this page; please try again later.";
    root.append(p);
  }
}

void start();
