import { useCallback, useEffect, useRef, useState } from "react";

export type Loadable<T> = { state: "loading" } | { state: "ready"; data: T } | { state: "error"; error: unknown };

/** Loads once per `key`; `reload` runs it again (after a change the page made). */
export function useLoad<T>(load: () => Promise<T>, key: string): Loadable<T> & { reload(): void } {
  const [s, setS] = useState<Loadable<T>>({ state: "loading" });
  const [n, setN] = useState(0);
  const lastKey = useRef(key);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `load` is a new closure every render; `key` names what it loads.
  useEffect(() => {
    let live = true;
    // A reload keeps showing the current data until the new one arrives; another record starts from "loading".
    const sameKey = lastKey.current === key;
    lastKey.current = key;
    setS((prev) => (prev.state === "ready" && sameKey ? prev : { state: "loading" }));
    load().then(
      (data) => live && setS({ state: "ready", data }),
      (error: unknown) => live && setS({ state: "error", error }),
    );
    return () => {
      live = false;
    };
  }, [key, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return Object.assign({}, s, { reload });
}
