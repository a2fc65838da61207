/**
 * Just enough PromQL reading to list the metric names (and name="..." matchers) an expression
 * selects; promtool checks the syntax proper.
 */

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

export interface Selector {
  readonly metric: string;
  /** Equality matchers (label="value") of the selector. */
  readonly equals: Readonly<Record<string, string>>;
}

/** Grafana's template variables replaced by values that keep the expression valid PromQL. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)/g, '1m')
    .replace(/\$\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}/g, '.*')
    .replace(/\[\[[a-zA-Z_][a-zA-Z0-9_]*\]\]/g, '.*')
    .replace(/\$[a-zA-Z_][a-zA-Z0-9_]*/g, '.*');
}

function parseMatchers(body: string): Record<string, string> {
  const equals: Record<string, string> = {};
  const matcher = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"/g;
  for (let m = matcher.exec(body); m !== null; m = matcher.exec(body)) {
    if (m[2] === '=') equals[m[1] as string] = (m[3] as string).replace(/\\(.)/g, '$1');
  }
  return equals;
}

/** The vector selectors of an expression: metric names with their equality matchers. */
export function selectorsOf(expr: string): Selector[] {
  const selectors: Selector[] = [];
  // Strings are dropped (after their selector's braces are read), label lists of by/without/on/
  // ignoring/group_* and durations in brackets carry no metric names.
  let text = expr;
  const braces: string[] = [];
  text = text.replace(/\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}/g, (_, body: string) => {
    braces.push(body);
    return `{#${braces.length - 1}}`;
  });
  text = text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  text = text.replace(/\[[^\]]*\]/g, ' ');
  const token = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{#(\d+)\})?(\s*\()?/g;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    const name = m[1] as string;
    const isCall = m[4] !== undefined && m[2] === undefined;
    const before = text[m.index - 1];
    if (isCall || KEYWORDS.has(name) || (before !== undefined && /[0-9.]/.test(before))) continue;
    const body = m[3] === undefined ? '' : (braces[Number(m[3])] as string);
    selectors.push({ metric: name, equals: parseMatchers(body) });
  }
  // A selector with only braces ({__name__="x"}) names its metric in a matcher.
  for (const body of braces) {
    const equals = parseMatchers(body);
    if (equals.__name__ !== undefined && !selectors.some((s) => s.metric === equals.__name__)) {
      selectors.push({ metric: equals.__name__, equals });
    }
  }
  return selectors;
}

/** Grafana's label_values(metric{...}, label) and metrics(...) template queries. */
export function selectorsOfTemplateQuery(query: string): Selector[] {
  const labelValues = /^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(query);
  if (labelValues !== null) return selectorsOf(substituteGrafanaVariables(labelValues[1] as string));
  const queryResult = /^\s*query_result\((.*)\)\s*$/.exec(query);
  if (queryResult !== null) return selectorsOf(substituteGrafanaVariables(queryResult[1] as string));
  return [];
}

/** Every `expr:` of a Prometheus rules file: single-line values and `|` / `>` block scalars. */
export function ruleExpressions(yamlText: string): string[] {
  const lines = yamlText.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = /^(\s*)(?:-\s+)?expr:\s*(.*)$/.exec(line);
    if (m === null) continue;
    const indent = (m[1] as string).length;
    const value = (m[2] as string).trim();
    if (value === '|' || value === '>' || value === '|-' || value === '>-') {
      const block: string[] = [];
      while (i + 1 < lines.length) {
        const next = lines[i + 1] as string;
        if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
        block.push(next.trim());
        i++;
      }
      out.push(block.join(' ').trim());
    } else if (value.startsWith('"') || value.startsWith("'")) {
      out.push(value.slice(1, -1));
    } else {
      out.push(value);
    }
  }
  return out;
}
