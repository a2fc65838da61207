/** Parsing of the Prometheus text exposition format, for tests that read /metrics. */

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly ParsedSample[];
  /** Families declared with # TYPE, by name, with their type. */
  readonly types: ReadonlyMap<string, string>;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const eq = text.indexOf('=', at);
    const name = text.slice(at, eq).trim();
    if (text[eq + 1] !== '"') throw new Error(`bad label value in {${text}}`);
    let value = '';
    let i = eq + 2;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const next = text[++i];
        value += next === 'n' ? '\n' : (next as string);
      } else {
        value += text[i];
      }
    }
    labels[name] = value;
    at = i + 1;
    if (text[at] === ',') at++;
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const samples: ParsedSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type !== null) types.set(type[1] as string, type[2] as string);
      continue;
    }
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    let name: string;
    let labels: Record<string, string> = {};
    if (brace >= 0 && brace < space) {
      name = line.slice(0, brace);
      labels = parseLabels(line.slice(brace + 1, line.lastIndexOf('}')));
    } else {
      name = line.slice(0, line.indexOf(' '));
    }
    const raw = line.slice(space + 1);
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

/** Samples of `name` whose labels include `labels` and have no label listed as undefined. */
export function select(
  exposition: Exposition,
  name: string,
  labels: Record<string, string | undefined> = {},
): ParsedSample[] {
  return exposition.samples.filter(
    (s) =>
      s.name === name &&
      Object.entries(labels).every(([k, v]) => (v === undefined ? !(k in s.labels) || s.labels[k] === '' : s.labels[k] === v)),
  );
}

/** The one sample's value; fails when there is not exactly one. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string | undefined> = {}): number {
  const found = select(exposition, name, labels);
  if (found.length !== 1) {
    throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}: ${JSON.stringify(found.slice(0, 5))}`);
  }
  return (found[0] as ParsedSample).value;
}

/** Sum over the matching samples (0 when none). */
export function sumOf(exposition: Exposition, name: string, labels: Record<string, string | undefined> = {}): number {
  return select(exposition, name, labels).reduce((total, s) => total + s.value, 0);
}

export async function scrape(metricsPort: number): Promise<Exposition> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
