import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type BarChart, clip, escapeXml, MAX_LABEL_CHARS, renderBarChart } from "./svg-chart.ts";

const NAME = "[A-Za-z_][\\w:.-]*";
const ATTRIBUTE = `\\s+${NAME}="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*"`;
const TAG = new RegExp(`<(/?)(${NAME})((?:${ATTRIBUTE})*)\\s*(/?)>`, "gy");
const TEXT = /(?:[^<&]|&(?:amp|lt|gt|quot|apos);)*/y;
// Characters XML 1.0 forbids anywhere in a document.
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what the check looks for.
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `svg` is one well-formed XML element: tags balanced and properly nested, every attribute
 * quoted and free of `<` and bare `&`, text free of `<` and bare `&`, nothing after the root.
 * A checker of our own (Bun has no DOMParser), strict enough for what the renderer writes.
 */
function wellFormed(svg: string): string | undefined {
  if (FORBIDDEN.test(svg)) return "a character XML forbids";
  const stack: string[] = [];
  let at = 0;
  let roots = 0;
  while (at < svg.length) {
    TEXT.lastIndex = at;
    const text = TEXT.exec(svg);
    at += text?.[0].length ?? 0;
    if (at >= svg.length) break;
    if (stack.length === 0 && roots > 0) return `content after the root at ${at}`;
    TAG.lastIndex = at;
    const tag = TAG.exec(svg);
    if (tag === null) return `not a tag at ${at}: ${svg.slice(at, at + 30)}`;
    const [whole, closing, name, , selfClosing] = tag;
    if (closing === "/") {
      if (stack.pop() !== name) return `</${name}> closes nothing open`;
    } else if (selfClosing !== "/") {
      if (stack.length === 0) roots++;
      stack.push(name as string);
    } else if (stack.length === 0) roots++;
    at += whole.length;
  }
  if (stack.length > 0) return `unclosed <${stack.join("> <")}>`;
  if (roots !== 1) return `${roots} root elements`;
  return undefined;
}

const role = fc.constantFrom("ours" as const, "peer" as const, "ceiling" as const);
const anyText = fc.string({ unit: "binary", maxLength: 80 });
const value = fc.oneof(
  fc.double({ noNaN: false }),
  fc.constantFrom(0, -1, Number.POSITIVE_INFINITY, Number.NaN, 1e300, 5e-324),
);
const chart: fc.Arbitrary<BarChart> = fc.record({
  title: anyText,
  subtitle: anyText,
  groups: fc.array(
    fc.record({
      title: anyText,
      bars: fc.array(fc.record({ label: anyText, role, value, valueLabel: anyText }), { maxLength: 5 }),
    }),
    { maxLength: 6 },
  ),
});

describe("renderBarChart", () => {
  test("any set of rows gives one well-formed SVG document, with every label escaped (property)", () => {
    fc.assert(
      fc.property(chart, (input) => {
        const svg = renderBarChart(input);
        expect(wellFormed(svg)).toBeUndefined();
        expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
        // Every bar drawn, at a finite, non-negative width.
        const widths = [...svg.matchAll(/<rect x="250" y="\d+" width="([^"]+)"/g)].map((m) => Number(m[1]));
        expect(widths).toHaveLength(input.groups.reduce((n, g) => n + g.bars.length, 0));
        expect(widths.every((w) => Number.isFinite(w) && w >= 0 && w <= 370)).toBe(true);
      }),
    );
  });

  test("labels with markup come out as text; long labels are clipped with an ellipsis", () => {
    const label = `<script>alert("x") & 'y'</script>`;
    const svg = renderBarChart({
      title: "a <b> & c",
      subtitle: "{{ not interpolated }}",
      groups: [
        {
          title: "w",
          bars: [
            { label, role: "ours", value: 2, valueLabel: "2 ev/s" },
            { label: "x".repeat(100), role: "peer", value: 1, valueLabel: "1 ev/s" },
          ],
        },
      ],
    });
    expect(wellFormed(svg)).toBeUndefined();
    expect(svg).not.toContain("<script");
    expect(svg).toContain("&lt;script&gt;alert(&quot;x&quot;) &amp; &apos;y&apos;&lt;/script&gt;");
    expect(svg).toContain(`${"x".repeat(MAX_LABEL_CHARS - 1)}…`);
    expect(svg).toContain("a &lt;b&gt; &amp; c");
  });

  test("bars of a workload are scaled to its longest; a value that is not a positive number draws none", () => {
    const svg = renderBarChart({
      title: "t",
      subtitle: "s",
      groups: [
        {
          title: "one",
          bars: [
            { label: "a", role: "ours", value: 100, valueLabel: "" },
            { label: "b", role: "peer", value: 50, valueLabel: "" },
          ],
        },
        {
          title: "two",
          bars: [
            { label: "c", role: "ours", value: 1, valueLabel: "" },
            { label: "d", role: "ceiling", value: Number.NaN, valueLabel: "" },
          ],
        },
      ],
    });
    const widths = [...svg.matchAll(/<rect x="250" y="\d+" width="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toEqual([370, 185, 370, 0]);
  });

  test("the checker itself refuses what is not well formed", () => {
    for (const bad of [
      "<svg><g></svg>",
      "<svg>a < b</svg>",
      '<svg a="<"/>',
      "<svg>&nbsp;</svg>",
      "<svg/><svg/>",
      "<svg>\u0001</svg>",
    ]) {
      expect(wellFormed(bad)).toBeDefined();
    }
    expect(wellFormed('<svg a="1"><g><rect/></g>&amp;</svg>')).toBeUndefined();
  });

  test("escapeXml and clip", () => {
    expect(escapeXml(`<&>"'`)).toBe("&lt;&amp;&gt;&quot;&apos;");
    expect(escapeXml("a\u0000b\ud800c")).toBe("abc");
    expect(clip("abcdef", 4)).toBe("abc…");
    expect(clip("abc", 4)).toBe("abc");
  });
});
