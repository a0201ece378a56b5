// A sensor's live values as chart columns: the live socket's `values` frames (per bucket the
// start and middle times, and per field its minimum then maximum) appended in time order and
// trimmed to the last `windowSecs`. Columns are plain arrays in seconds, as uPlot takes them.

export interface ValuesFrame {
  type: "values";
  sensor_id: string;
  /** Nanoseconds since the epoch, two per bucket. */
  ts: number[];
  /** Per field, one value (or null: no value in the bucket) per entry of `ts`. */
  fields: Record<string, (number | null)[]>;
  dropped?: number;
}

export class ChartBuffer {
  /** Seconds since the epoch. */
  readonly times: number[] = [];
  readonly fields = new Map<string, (number | null)[]>();
  /** Frames the server dropped for this client (it lagged). */
  dropped = 0;

  constructor(readonly windowSecs = 60) {}

  append(frame: ValuesFrame): void {
    this.dropped += frame.dropped ?? 0;
    const last = this.times.length > 0 ? this.times[this.times.length - 1] : -Infinity;
    for (const name of Object.keys(frame.fields)) {
      // A field seen for the first time has had no value until now.
      if (!this.fields.has(name)) this.fields.set(name, new Array(this.times.length).fill(null));
    }
    frame.ts.forEach((ns, i) => {
      const t = ns / 1e9;
      // Buckets come once and in order; anything older than what is shown is left out.
      if (t <= last) return;
      this.times.push(t);
      for (const [name, column] of this.fields) column.push(frame.fields[name]?.[i] ?? null);
    });
    this.trim();
  }

  /** uPlot's data: the times, then each field's column (in `names` order). */
  columns(names = [...this.fields.keys()]): [number[], ...(number | null)[][]] {
    return [this.times, ...names.map((name) => this.fields.get(name) ?? [])];
  }

  private trim(): void {
    const newest = this.times[this.times.length - 1];
    let cut = 0;
    while (cut < this.times.length && this.times[cut] < newest - this.windowSecs) cut++;
    if (cut === 0) return;
    this.times.splice(0, cut);
    for (const column of this.fields.values()) column.splice(0, cut);
  }
}
