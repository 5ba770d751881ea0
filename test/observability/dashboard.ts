import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_FILE = fileURLToPath(
  new URL('../../deploy/grafana/postroom.json', import.meta.url),
);

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  datasource?: unknown;
}

export interface GrafanaPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: unknown;
  targets?: GrafanaTarget[];
  /** Panels inside a collapsed row. */
  panels?: GrafanaPanel[];
}

interface GrafanaVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
}

export interface GrafanaDashboard {
  panels: GrafanaPanel[];
  templating?: { list: GrafanaVariable[] };
}

/** One PromQL query of the dashboard, named by where it sits. */
export interface DashboardQuery {
  source: string;
  /** The query as stored in the dashboard, with Grafana variables. */
  expr: string;
  /** The query with every Grafana variable replaced, ready for the Prometheus HTTP API. */
  promql: string;
}

// Values a Grafana server would put in for a dashboard showing the last 10 minutes. The rate
// interval is wider than Grafana's (4 scrape intervals) so that short test runs still have data.
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '10m',
  mailbox: '.*',
};

export function loadDashboard(file = DASHBOARD_FILE): GrafanaDashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as GrafanaDashboard;
}

/** Returns every panel that shows data, including those inside collapsed rows. */
export function dataPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((panel) =>
    panel.type === 'row' ? (panel.panels ?? []) : [panel],
  );
}

/** Returns every PromQL query of the dashboard: panel targets and template variable queries. */
export function dashboardQueries(dashboard: GrafanaDashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of dataPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      if (!target.expr) continue;
      const source = `panel "${panel.title}" query ${target.refId}`;
      queries.push({ source, expr: target.expr, promql: toPromql(target.expr) });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const expr =
      typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    queries.push({
      source: `variable $${variable.name}`,
      expr,
      promql: toPromql(labelValuesToPromql(expr)),
    });
  }
  return queries;
}

/** Replaces Grafana's `$name` and `${name}` variables; throws on one it does not know. */
export function toPromql(expr: string): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${match} in query: ${expr}`);
    return value;
  });
}

// Grafana's `label_values(metric, label)` is not PromQL; this query has a series per value.
function labelValuesToPromql(expr: string): string {
  const match = /^label_values\((.+),\s*(\w+)\)$/.exec(expr.trim());
  if (!match) return expr;
  return `count by (${match[2]}) (${match[1]})`;
}
