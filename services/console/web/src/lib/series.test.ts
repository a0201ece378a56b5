import { describe, expect, it } from "vitest";
import { ChartBuffer, type ValuesFrame } from "./series";

const S = 1e9;
const frame = (ts: number[], fields: ValuesFrame["fields"], dropped?: number): ValuesFrame => ({ type: "values", sensor_id: "ecg-1", ts: ts.map((t) => t * S), fields, dropped });

describe("ChartBuffer", () => {
  it("keeps each bucket's min and max points in order, fields aligned with the times", () => {
    const buffer = new ChartBuffer(30);
    buffer.append(frame([100, 100.02], { lead_i: [-1, 2] }));
    // lead_ii appears later: it had no values before.
    buffer.append(frame([100.04, 100.06], { lead_i: [0.5, 0.7], lead_ii: [3, 4] }));
    expect(buffer.columns(["lead_i", "lead_ii"])).toEqual([
      [100, 100.02, 100.04, 100.06],
      [-1, 2, 0.5, 0.7],
      [null, null, 3, 4],
    ]);
  });

  it("leaves out points older than those shown, counts drops, and keeps only the window", () => {
    const buffer = new ChartBuffer(30);
    buffer.append(frame([100, 100.02], { level: [1, 1] }));
    buffer.append(frame([99, 99.02], { level: [5, 5] }, 3));
    expect(buffer.times).toEqual([100, 100.02]);
    expect(buffer.dropped).toBe(3);
    buffer.append(frame([120, 130.5], { level: [2, null] }));
    // 30 s before the newest point (130.5) is 100.5: the first two points go.
    expect(buffer.columns()).toEqual([
      [120, 130.5],
      [2, null],
    ]);
  });
});
