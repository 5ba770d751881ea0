import { expect, test } from 'vitest';
import { dashboardQueries, dataPanels, loadDashboard, toPromql } from './dashboard.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template.
const DATASOURCE_UID = '${DS_PROMETHEUS}';
const dashboard = loadDashboard();
const panels = dataPanels(dashboard);

// Every `expr` anywhere in the JSON, whatever the nesting, to catch queries the extractor misses.
function allExpressions(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allExpressions);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === 'expr' && typeof item === 'string' ? [item] : allExpressions(item),
  );
}

test('dashboard has data panels', () => {
  expect(panels.length).toBeGreaterThan(15);
});

test.each(panels.map((panel) => [panel.title ?? `panel ${panel.id}`, panel] as const))(
  'panel %s has a datasource and a query',
  (_title, panel) => {
    expect(panel.datasource).toMatchObject({ type: 'prometheus', uid: DATASOURCE_UID });
    expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
    for (const target of panel.targets ?? []) {
      expect(target.expr?.trim(), `query ${target.refId}`).toBeTruthy();
      expect(target.datasource, `query ${target.refId}`).toMatchObject({ uid: DATASOURCE_UID });
    }
  },
);

test('datasource variable is defined', () => {
  const names = dashboard.templating?.list.map((variable) => variable.name) ?? [];

  expect(names).toContain('DS_PROMETHEUS');
});

test('panel ids are unique', () => {
  const ids = dashboard.panels
    .flatMap((panel) => [panel, ...(panel.panels ?? [])])
    .map((panel) => panel.id);

  expect(new Set(ids).size).toBe(ids.length);
});

test('prometheus test runs every query of the dashboard', () => {
  const tested = new Set(dashboardQueries(dashboard).map((query) => query.expr));
  const missing = allExpressions(dashboard.panels).filter((expr) => !tested.has(expr));

  expect(missing).toEqual([]);
});

test('every query uses only known Grafana variables', () => {
  for (const query of dashboardQueries(dashboard)) {
    expect(() => toPromql(query.expr), query.source).not.toThrow();
  }
});
