import { describe, expect, it } from "vitest";
import { LabelValues, OTHER_LABEL } from "../../src/worker/label-values.js";
import { createWorkerMetrics } from "../../src/worker/metrics.js";

describe("label values a producer chooses", () => {
  it("keeps the first max distinct values, each cut to maxChars, and counts later ones as other", () => {
    const labels = new LabelValues(2, 5);
    expect(["a", "b", "a", "c", "b"].map((v) => labels.of(v))).toEqual(["a", "b", "a", OTHER_LABEL, "b"]);
    expect(new LabelValues(3, 5).of("abcdefgh")).toBe("abcd…");
    // Exactly maxChars is kept whole; one more is cut to maxChars with the mark.
    expect(new LabelValues(3, 5).of("abcde")).toBe("abcde");
    expect(new LabelValues(3, 5).of("abcdef")).toBe("abcd…");
  });

  it("10,000 made-up field names in received matches make at most 101 series of the unknown-fields counter, all counted", async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    for (let i = 0; i < 10_000; i++) metrics.unknownFields.inc({ field: `made_up_${i}_${"x".repeat(i % 300)}` });
    const text = await metrics.registry.getSingleMetricAsString("matchflow_contract_unknown_fields_total");
    const series = text.split("\n").filter((l) => l.startsWith("matchflow_contract_unknown_fields_total{"));
    expect(series).toHaveLength(101);
    expect(series.reduce((sum, l) => sum + Number(l.split(" ").pop()), 0)).toBe(10_000);
    expect(text).toContain(`field="other"} 9900`);
    expect(Math.max(...series.map((l) => l.length))).toBeLessThan(200);
  });
});
