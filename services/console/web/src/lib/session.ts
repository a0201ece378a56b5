// The signed-in session: the token pair, refreshed before the access token runs out, and
// forgotten on sign-out. Kept in sessionStorage (this tab, until it closes), never in
// localStorage, so a shared lab laptop does not keep anyone signed in.

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Stored {
  access: string;
  refresh: string;
  /** When the access token runs out (ms since the epoch). */
  expiresAt: number;
}

/** Refresh this long before the access token runs out. */
export const REFRESH_MARGIN_MS = 30_000;

export function fromPair(pair: TokenPair, now: number): Stored {
  return { access: pair.access_token, refresh: pair.refresh_token, expiresAt: now + pair.expires_in * 1000 };
}

export function needsRefresh(stored: Stored, now: number): boolean {
  return now >= stored.expiresAt - REFRESH_MARGIN_MS;
}

export interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY = "srs.session";

/** Asks the server for a new pair; `null` when the refresh token is no longer valid. */
export type Refresher = (refreshToken: string) => Promise<TokenPair | null>;

/**
 * The session. Concurrent callers needing a fresh token share one refresh request: the
 * server rotates refresh tokens, so a second refresh with the old one would fail and sign
 * the operator out.
 */
export class Session {
  private inFlight: Promise<string | null> | null = null;

  constructor(
    private storage: Storage,
    private refresher: Refresher,
    private clock: () => number = Date.now,
  ) {}

  get stored(): Stored | null {
    const raw = this.storage.getItem(KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Stored;
    } catch {
      return null;
    }
  }

  signedIn(): boolean {
    return this.stored !== null;
  }

  start(pair: TokenPair): void {
    this.storage.setItem(KEY, JSON.stringify(fromPair(pair, this.clock())));
  }

  end(): void {
    this.storage.removeItem(KEY);
  }

  /** A valid access token, refreshed first if needed; `null` once the session is over. */
  async accessToken(): Promise<string | null> {
    const stored = this.stored;
    if (!stored) return null;
    if (!needsRefresh(stored, this.clock())) return stored.access;
    return this.refresh();
  }

  /** Refreshes now (after a 401, say); `null` when the session cannot go on. */
  refresh(): Promise<string | null> {
    if (!this.inFlight) {
      this.inFlight = this.doRefresh().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async doRefresh(): Promise<string | null> {
    const stored = this.stored;
    if (!stored) return null;
    const pair = await this.refresher(stored.refresh);
    if (!pair) {
      this.end();
      return null;
    }
    this.start(pair);
    return pair.access_token;
  }
}
