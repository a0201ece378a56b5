import { describe, expect, it } from "vitest";
import { REFRESH_MARGIN_MS, Session, type Storage, type TokenPair } from "./session";

class MemoryStorage implements Storage {
  items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const pair = (n: number): TokenPair => ({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: 900 });

describe("Session", () => {
  it("uses the access token until shortly before it runs out, then refreshes once", async () => {
    let now = 1_000_000;
    const used: string[] = [];
    const session = new Session(
      new MemoryStorage(),
      async (refresh) => {
        used.push(refresh);
        return pair(used.length + 1);
      },
      () => now,
    );
    session.start(pair(1));
    expect(await session.accessToken()).toBe("access-1");
    now += 900_000 - REFRESH_MARGIN_MS - 1;
    expect(await session.accessToken()).toBe("access-1");
    now += 1;
    // Three requests at once share one refresh: the server rotates refresh tokens.
    const tokens = await Promise.all([session.accessToken(), session.accessToken(), session.accessToken()]);
    expect(tokens).toEqual(["access-2", "access-2", "access-2"]);
    expect(used).toEqual(["refresh-1"]);
    expect(session.stored?.refresh).toBe("refresh-2");
  });

  it("ends when the refresh token is refused, and after sign-out", async () => {
    const storage = new MemoryStorage();
    const session = new Session(storage, async () => null, () => 0);
    session.start({ ...pair(1), expires_in: 0 });
    expect(await session.accessToken()).toBeNull();
    expect(session.signedIn()).toBe(false);
    session.start(pair(2));
    session.end();
    expect(storage.items.size).toBe(0);
    expect(await session.accessToken()).toBeNull();
  });
});
