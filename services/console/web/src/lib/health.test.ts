import { describe, expect, it } from "vitest";
import { elapsed, health } from "./health";

describe("health", () => {
  it("is live, stale or silent by how long ago the sensor was heard", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(health("2026-12-01T09:59:58Z", now)).toBe("live");
    expect(health("2026-12-01T09:59:30Z", now)).toBe("stale");
    expect(health("2026-12-01T09:58:00Z", now)).toBe("silent");
    expect(health(null, now)).toBe("silent");
  });

  it("writes elapsed time as a clock", () => {
    expect([elapsed(0), elapsed(62_000), elapsed(3_723_000)]).toEqual(["0:00", "1:02", "1:02:03"]);
  });
});
