/**
 * Looks of the package's nodes in a real editor (issue 16, item 7): headless Debian chromium (playwright-core)
 * against a real Node-RED process loading the packed package.
 * - The node label (drawn by Node-RED in `--red-ui-node-label-color`, #333) on the node colour has a contrast of
 *   at least 4.5:1 (WCAG 2.1 AA, "Contrast (Minimum)"), measured from the computed styles, in the palette and on
 *   the workspace, for all four node types.
 * - Every palette label of the package fits on one line (no wrapping, no ellipsis).
 * Skips with a message when /usr/bin/chromium is absent (fails in CI).
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { importFlow, screenshot, useEditor } from '../support/browser';

const FLOW_NODE_TYPES = ['ms365-poller', 'ms365-webhook-in', 'ms365-callback-out'];
/** WCAG 2.1 AA, normal text. */
const MIN_CONTRAST = 4.5;

const VERSIONS = (process.env.MS365_BROWSER_NODE_RED || '4,5')
  .split(',')
  .map((v) => Number(v.trim()))
  .filter((v): v is 4 | 5 => v === 4 || v === 5);

/** `rgb(r, g, b)` / `rgba(...)` / `#rrggbb` → [r, g, b]. */
function parseColour(text: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text.trim());
  if (hex) return [parseInt(hex[1], 16), parseInt(hex[2], 16), parseInt(hex[3], 16)];
  const rgb = /rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/i.exec(text);
  if (!rgb) throw new Error(`not a colour: ${text}`);
  return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
}

/** WCAG 2.1 relative luminance and contrast ratio. */
function luminance([r, g, b]: [number, number, number]): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
export function contrast(a: string, b: string): number {
  const [l1, l2] = [luminance(parseColour(a)), luminance(parseColour(b))].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}

describe('contrast (WCAG 2.1)', () => {
  it('computes the ratios of the issue: #333 on #0078d4 is 2.79, black on white 21', () => {
    assert.equal(contrast('#333333', '#0078d4').toFixed(2), '2.79');
    assert.equal(contrast('rgb(0, 0, 0)', '#ffffff').toFixed(0), '21');
  });
});

for (const version of VERSIONS) describe(`looks in headless chromium (Node-RED ${version === 4 ? '4.1' : '5'}): contrast, palette labels`, function () {
  this.timeout(120_000);
  const editor = useEditor(version, { logTail: 0, closeTrays: false });
  let page: Page;
  before(() => ({ page } = editor()));

  it(`palette: label on node colour has contrast >= ${MIN_CONTRAST}:1 and each label is one line`, async () => {
    const found = await page.$$eval('#red-ui-palette-base-category-Microsoft_365 .red-ui-palette-node', (els) =>
      els.map((e) => {
        const label = e.querySelector('.red-ui-palette-label') as HTMLElement;
        const style = getComputedStyle(label);
        return {
          type: e.getAttribute('data-palette-type'),
          background: getComputedStyle(e).backgroundColor,
          colour: style.color,
          text: label.innerText,
          height: label.getBoundingClientRect().height,
          lineHeight: parseFloat(style.lineHeight),
          clipped: label.scrollWidth > label.clientWidth,
          lines: label.querySelectorAll('br').length + 1,
        };
      }),
    );
    assert.deepEqual(found.map((f) => f.type).sort(), [...FLOW_NODE_TYPES].sort());
    for (const f of found) {
      const ratio = contrast(f.colour, f.background);
      console.log(`      ${f.type}: "${f.text}" ${f.colour} on ${f.background}: ${ratio.toFixed(2)}:1, ${f.height}px high`);
      assert.ok(ratio >= MIN_CONTRAST, `${f.type}: label contrast ${ratio.toFixed(2)}:1 < ${MIN_CONTRAST}:1`);
      assert.equal(f.lines, 1, `${f.type}: palette label "${f.text}" wraps onto ${f.lines} lines`);
      assert.ok(f.height <= f.lineHeight * 1.5, `${f.type}: palette label "${f.text}" is ${f.height}px high (one line: ${f.lineHeight}px)`);
      assert.equal(f.clipped, false, `${f.type}: palette label "${f.text}" is cut off`);
    }
    await screenshot(page, `looks-palette-nr${version}`, { selector: '#red-ui-palette-container-Microsoft_365' });
  });

  it(`workspace: all four node types (connector included) draw their label with contrast >= ${MIN_CONTRAST}:1`, async () => {
    const connectorColour = await page.evaluate(() => {
      const w = window as unknown as { RED: { nodes: { getType(t: string): { color?: string } | undefined } } };
      return w.RED.nodes.getType('ms365-connector')?.color ?? '';
    });
    const flowColours = await page.evaluate((types) => {
      const w = window as unknown as { RED: { nodes: { getType(t: string): { color?: string } | undefined } } };
      return types.map((t) => w.RED.nodes.getType(t)?.color ?? '');
    }, FLOW_NODE_TYPES);
    // One colour for the package (config nodes are not drawn on the workspace, but the type declares it too).
    assert.equal(new Set([...flowColours, connectorColour]).size, 1, `the node types use different colours: ${[...flowColours, connectorColour].join(', ')}`);

    const ids = FLOW_NODE_TYPES.map((t, i) => `looks${i}`);
    await importFlow(
      page,
      FLOW_NODE_TYPES.map((type, i) => ({ id: ids[i], type, name: '', x: 200, y: 80 + 60 * i, wires: [] })),
      { x: 200, y: 80 },
    );
    await page.waitForFunction((list) => list.every((i) => document.getElementById(i)), ids);
    const drawn = await page.evaluate((list) =>
      list.map((id) => {
        const g = document.getElementById(id) as unknown as SVGGElement;
        const rect = g.querySelector('rect.red-ui-flow-node') as SVGRectElement;
        const label = g.querySelector('.red-ui-flow-node-label') as SVGTextElement;
        return { id, fill: getComputedStyle(rect).fill, text: getComputedStyle(label).fill };
      }),
    ids);
    for (const d of drawn) {
      const ratio = contrast(d.text, d.fill);
      console.log(`      ${d.id}: label ${d.text} on ${d.fill}: ${ratio.toFixed(2)}:1`);
      assert.ok(ratio >= MIN_CONTRAST, `${d.id}: label contrast ${ratio.toFixed(2)}:1 < ${MIN_CONTRAST}:1`);
    }
    assert.ok(contrast('#333333', connectorColour) >= MIN_CONTRAST, `connector colour ${connectorColour}: contrast < ${MIN_CONTRAST}:1`);
    await screenshot(page, `looks-workspace-nr${version}`);
  });
});
