/**
 * Label values a producer chooses (a match's unknown field names, a Celery signature's queue) with
 * a bound: prom-client keeps every label set it was given for the life of the process, so 50
 * messages of 2,500 made-up keys each grew 125,000 series (45 MB of a worker capped at 96 MB,
 * and a 7 MB scrape). The first `max` distinct values are kept, each cut to `maxChars`; every
 * later one is counted as `other`. Pure.
 */
export const OTHER_LABEL = "other";

export class LabelValues {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly maxChars = 100,
  ) {}

  /** The label value to count `value` under. */
  of(value: string): string {
    const label = value.length > this.maxChars ? `${value.slice(0, this.maxChars - 1)}…` : value;
    if (this.seen.has(label)) return label;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(label);
    return label;
  }
}
