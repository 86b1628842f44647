/**
 * A small renderer of horizontal bar charts as plain SVG text, for the benchmark page: no chart
 * library, no DOM, the same output for the same input (so a regenerated page only changes where
 * the figures did). Every label is escaped; values that are not finite positive numbers draw no bar.
 */

/** Who a bar measures: EventFlows, a peer library, or the bare-driver ceiling. */
export type BarRole = "ours" | "peer" | "ceiling";

export interface ChartBar {
  readonly label: string;
  readonly role: BarRole;
  /** What the bar's length shows (events/s, or a time): the longest bar of its group is the group's largest value. */
  readonly value: number;
  /** The value as printed after the bar, e.g. `1,093 ev/s`. */
  readonly valueLabel: string;
}

export interface ChartGroup {
  /** The workload, e.g. `hot stream, batch 10, 1 writer`. */
  readonly title: string;
  readonly bars: readonly ChartBar[];
}

export interface BarChart {
  readonly title: string;
  /** A line under the title: the unit and which way is better. */
  readonly subtitle: string;
  readonly groups: readonly ChartGroup[];
}

export const ROLE_COLOURS: Readonly<Record<BarRole, string>> = {
  ours: "#3451b2",
  peer: "#e8912d",
  ceiling: "#8e8e93",
};

const WIDTH = 760;
const LABEL_WIDTH = 250;
const VALUE_WIDTH = 120;
const BAR_HEIGHT = 16;
const BAR_GAP = 4;
const GROUP_TITLE = 22;
const GROUP_GAP = 10;
const HEADER = 58;
const LEGEND = 28;
/** Longest label drawn, in characters: the label column is fixed, a longer one is cut with "…". */
export const MAX_LABEL_CHARS = 40;
const MAX_TITLE_CHARS = 110;

/** Text and attribute values with the five XML specials escaped, and characters XML 1.0 forbids dropped. */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters XML 1.0 forbids are what this removes.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;")
  );
}

/** At most `max` characters (code points), the cut marked with "…". */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

function number(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** The chart as a standalone SVG document. */
export function renderBarChart(chart: BarChart): string {
  const barSpace = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20;
  const parts: string[] = [];
  let y = HEADER + LEGEND;
  for (const group of chart.groups) {
    parts.push(`<text x="10" y="${y + 15}" class="group">${escapeXml(clip(group.title, MAX_TITLE_CHARS))}</text>`);
    y += GROUP_TITLE;
    // Each workload on its own scale: its bars are compared with each other, not with other workloads'.
    const values = group.bars.map((b) => b.value).filter((v) => Number.isFinite(v) && v > 0);
    const max = values.length === 0 ? 1 : Math.max(...values);
    for (const bar of group.bars) {
      const ok = Number.isFinite(bar.value) && bar.value > 0;
      const width = ok ? Math.max(1, (bar.value / max) * barSpace) : 0;
      const colour = ROLE_COLOURS[bar.role] ?? ROLE_COLOURS.ours;
      const label = escapeXml(clip(bar.label, MAX_LABEL_CHARS));
      parts.push(
        `<text x="${LABEL_WIDTH - 6}" y="${y + 12}" class="label" text-anchor="end">${label}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${number(width)}" height="${BAR_HEIGHT}" fill="${colour}"><title>${label}: ${escapeXml(bar.valueLabel)}</title></rect>`,
        `<text x="${number(LABEL_WIDTH + width + 6)}" y="${y + 12}" class="value">${escapeXml(bar.valueLabel)}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += GROUP_GAP;
  }
  const height = y + 6;
  const legend = (["ours", "peer", "ceiling"] as const).map((role, i) => {
    const x = 10 + i * 180;
    const name = { ours: "EventFlows", peer: "peer library", ceiling: "ceiling (bare driver, baseline)" }[role];
    return `<rect x="${x}" y="${HEADER}" width="12" height="12" fill="${ROLE_COLOURS[role]}"/><text x="${x + 18}" y="${HEADER + 11}" class="label">${name}</text>`;
  });
  const title = escapeXml(clip(chart.title, MAX_TITLE_CHARS));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${title}">`,
    `<title>${title}</title>`,
    "<style>text{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;fill:#1f2328}.title{font-size:15px;font-weight:600}.subtitle{font-size:12px;fill:#57606a}.group{font-size:12px;font-weight:600}.label,.value{font-size:11px}</style>",
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" class="title">${title}</text>`,
    `<text x="10" y="42" class="subtitle">${escapeXml(clip(chart.subtitle, MAX_TITLE_CHARS))}</text>`,
    ...legend,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
