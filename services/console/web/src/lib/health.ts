// A sensor's health for its dashboard tile, from when it was last heard.

export type Health = "live" | "stale" | "silent";

/** Heard within this long: live. */
export const LIVE_MS = 3_000;
/** Heard within this long: stale; beyond it (or never): silent. */
export const STALE_MS = 60_000;

export function health(lastSeen: string | null | undefined, now: number): Health {
  if (!lastSeen) return "silent";
  const age = now - Date.parse(lastSeen);
  if (age <= LIVE_MS) return "live";
  return age <= STALE_MS ? "stale" : "silent";
}

/** "1:02:03" or "2:03" for a duration in ms. */
export function elapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}
