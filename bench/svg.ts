// Tiny SVG charts written by the bench itself (no network, no chart library).

export interface Series {
  readonly name: string;
  readonly points: readonly [number, number][];
  readonly dashed?: boolean;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / count));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max + 1e-9; v += nice) out.push(Number(v.toPrecision(6)));
  return out;
}

/** A line chart; with `logX` the x axis is logarithmic and ticked at the data's own x values. */
export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly Series[],
  logY = false,
  logX = false,
): string {
  const w = 800;
  const h = 420;
  const m = {l: 70, r: 240, t: 40, b: 50};
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0);
  const fx = (x: number) => (logX ? Math.log10(Math.max(x, 1e-3)) : x);
  const xMin = logX ? fx(Math.min(...xs)) - 0.1 : 0;
  const xMax = logX ? fx(Math.max(...xs)) + 0.1 : Math.max(...xs, 1) * 1.05;
  const fy = (y: number) => (logY ? Math.log10(Math.max(y, 1e-3)) : y);
  const yMin = logY ? Math.floor(Math.min(...ys.map(fy))) : 0;
  const yMax = logY ? Math.ceil(Math.max(...ys.map(fy))) : Math.max(...ys, 1) * 1.1;
  const px = (x: number) => m.l + ((fx(x) - xMin) / (xMax - xMin || 1)) * (w - m.l - m.r);
  const py = (y: number) => h - m.b - ((fy(y) - yMin) / (yMax - yMin || 1)) * (h - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2 - 90}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${h - m.b}" x2="${w - m.r}" y2="${h - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${h - m.b}" stroke="#333"/>`,
    `<text x="${(w - m.r) / 2}" y="${h - 12}">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${h / 2 + 40}) rotate(-90)">${esc(yLabel)}</text>`,
  ];
  for (const x of logX ? [...new Set(xs)] : ticks(0, xMax))
    parts.push(
      `<text x="${px(x) - 10}" y="${h - m.b + 16}">${x}</text><line x1="${px(x)}" y1="${h - m.b}" x2="${px(x)}" y2="${h - m.b + 4}" stroke="#333"/>`,
    );
  const yTicks = logY ? Array.from({length: yMax - yMin + 1}, (_, i) => 10 ** (yMin + i)) : ticks(0, yMax);
  for (const y of yTicks)
    parts.push(
      `<text x="${m.l - 50}" y="${py(y) + 4}">${y}</text><line x1="${m.l}" y1="${py(y)}" x2="${w - m.r}" y2="${py(y)}" stroke="#eee"/>`,
    );
  series.forEach((s, i) => {
    const color = palette[i % palette.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" ${s.dashed ? 'stroke-dasharray="6 4"' : ''} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const [x, y] of pts)
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    parts.push(
      `<line x1="${w - m.r + 10}" y1="${m.t + 10 + i * 18}" x2="${w - m.r + 34}" y2="${m.t + 10 + i * 18}" stroke="${color}" stroke-width="2" ${s.dashed ? 'stroke-dasharray="6 4"' : ''}/><text x="${w - m.r + 40}" y="${m.t + 14 + i * 18}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function barChart(
  title: string,
  xLabel: string,
  yLabel: string,
  groups: readonly {name: string; bars: readonly [number, number][]}[],
): string {
  const w = 760;
  const h = 380;
  const m = {l: 70, r: 200, t: 40, b: 50};
  const xs = [...new Set(groups.flatMap((g) => g.bars.map((b) => b[0])))].sort((a, b) => a - b);
  const yMax = Math.max(...groups.flatMap((g) => g.bars.map((b) => b[1])), 1e-9) * 1.1;
  const slot = (w - m.l - m.r) / Math.max(xs.length, 1);
  const bw = (slot * 0.8) / Math.max(groups.length, 1);
  const py = (y: number) => h - m.b - (y / yMax) * (h - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2 - 110}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${h - m.b}" x2="${w - m.r}" y2="${h - m.b}" stroke="#333"/>`,
    `<text x="${(w - m.r) / 2}" y="${h - 12}">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${h / 2 + 40}) rotate(-90)">${esc(yLabel)}</text>`,
  ];
  for (const y of ticks(0, yMax))
    parts.push(
      `<text x="${m.l - 50}" y="${py(y) + 4}">${y}</text><line x1="${m.l}" y1="${py(y)}" x2="${w - m.r}" y2="${py(y)}" stroke="#eee"/>`,
    );
  xs.forEach((x, i) => {
    if (xs.length <= 20 || i % Math.ceil(xs.length / 16) === 0)
      parts.push(`<text x="${m.l + i * slot + slot / 2 - 6}" y="${h - m.b + 16}">${x}</text>`);
  });
  groups.forEach((g, gi) => {
    const color = palette[gi % palette.length];
    for (const [x, y] of g.bars) {
      const i = xs.indexOf(x);
      const left = m.l + i * slot + slot * 0.1 + gi * bw;
      parts.push(
        `<rect x="${left.toFixed(1)}" y="${py(y).toFixed(1)}" width="${bw.toFixed(1)}" height="${(h - m.b - py(y)).toFixed(1)}" fill="${color}"/>`,
      );
    }
    parts.push(
      `<rect x="${w - m.r + 10}" y="${m.t + 2 + gi * 18}" width="14" height="10" fill="${color}"/><text x="${w - m.r + 30}" y="${m.t + 12 + gi * 18}">${esc(g.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
