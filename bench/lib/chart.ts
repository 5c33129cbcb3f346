/**
 * The results chart: throughput (linear bars) and publish-to-commit latency (log-scale bars)
 * side by side, written as SVG by hand (no dependency) and converted to PNG with rsvg-convert
 * (Debian's librsvg2-bin), which works offline.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

export interface ChartInput {
  title: string;
  subtitle: string;
  throughput: { label: string; value: number; color: string }[];
  latency: { label: string; p50: number; p95: number; p99: number; color: string }[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const W = 1100;
const H = 460;

function text(x: number, y: number, s: string, opts: { size?: number; anchor?: string; weight?: string; fill?: string } = {}): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${opts.size ?? 12}" text-anchor="${opts.anchor ?? "start"}" font-weight="${opts.weight ?? "normal"}" fill="${opts.fill ?? "#222"}">${esc(s)}</text>`;
}

function throughputPanel(x0: number, y0: number, w: number, items: ChartInput["throughput"]): string {
  const out = [text(x0, y0, "Throughput, matches/s (higher is better)", { size: 14, weight: "bold" })];
  const max = Math.max(1, ...items.map((i) => i.value));
  const labelW = 190;
  const barH = 34;
  items.forEach((item, i) => {
    const y = y0 + 30 + i * (barH + 22);
    const len = ((w - labelW - 70) * item.value) / max;
    out.push(text(x0, y + barH / 2 + 4, item.label, { size: 12 }));
    out.push(`<rect x="${x0 + labelW}" y="${y}" width="${Math.max(1, len).toFixed(1)}" height="${barH}" fill="${item.color}"/>`);
    out.push(text(x0 + labelW + len + 6, y + barH / 2 + 4, Math.round(item.value).toLocaleString("en-US"), { size: 12, weight: "bold" }));
  });
  return out.join("\n");
}

function latencyPanel(x0: number, y0: number, w: number, h: number, groups: ChartInput["latency"]): string {
  const out = [text(x0, y0, "Publish-to-commit latency at 1,000/s (ms, log scale)", { size: 14, weight: "bold" })];
  const top = y0 + 30;
  const plotH = h - 90;
  const left = x0 + 50;
  const plotW = w - 60;
  const lo = 1;
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...groups.map((g) => g.p99)))));
  const yOf = (v: number) => top + plotH - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  for (let v = lo; v <= hi; v *= 10) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${yOf(v).toFixed(1)}" y2="${yOf(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(text(left - 6, yOf(v) + 4, v >= 1000 ? `${v / 1000} s` : `${v}`, { size: 11, anchor: "end", fill: "#666" }));
  }
  const target = yOf(50);
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${target.toFixed(1)}" y2="${target.toFixed(1)}" stroke="#c00" stroke-dasharray="5,4"/>`);
  out.push(text(left + 4, target - 4, "target p99 < 50 ms", { size: 11, fill: "#c00" }));
  const groupW = plotW / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const bars: [string, number][] = [["p50", g.p50], ["p95", g.p95], ["p99", g.p99]];
    const barW = Math.min(50, (groupW - 40) / 3);
    bars.forEach(([name, v], bi) => {
      const x = left + gi * groupW + 20 + bi * (barW + 6);
      const y = yOf(v);
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - y).toFixed(1)}" fill="${g.color}" fill-opacity="${0.55 + bi * 0.2}"/>`);
      out.push(text(x + barW / 2, y - 4, v >= 1000 ? `${(v / 1000).toFixed(1)}s` : v.toFixed(v < 10 ? 1 : 0), { size: 10, anchor: "middle" }));
      out.push(text(x + barW / 2, top + plotH + 14, name, { size: 10, anchor: "middle", fill: "#666" }));
    });
    out.push(text(left + gi * groupW + 20 + (3 * (barW + 6)) / 2, top + plotH + 32, g.label, { size: 12, anchor: "middle", weight: "bold" }));
  });
  return out.join("\n");
}

export function renderChartSvg(input: ChartInput): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<rect width="${W}" height="${H}" fill="#fff"/>
${text(20, 28, input.title, { size: 18, weight: "bold" })}
${text(20, 48, input.subtitle, { size: 12, fill: "#555" })}
${throughputPanel(20, 85, 520, input.throughput)}
${latencyPanel(570, 85, 510, H - 85, input.latency)}
</svg>
`;
}

/** Writes `<base>.svg` and, when rsvg-convert is installed, `<base>.png`. Returns the PNG path or undefined. */
export function writeChart(base: string, input: ChartInput): string | undefined {
  writeFileSync(`${base}.svg`, renderChartSvg(input));
  try {
    execFileSync("rsvg-convert", ["-f", "png", "-o", `${base}.png`, `${base}.svg`], { stdio: ["ignore", "ignore", "pipe"] });
    return `${base}.png`;
  } catch (err) {
    console.error(`rsvg-convert failed (apt-get install librsvg2-bin): ${String(err)}`);
    return undefined;
  }
}
