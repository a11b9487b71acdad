// The service's routes, in one place: the router registers them and the metrics label requests
// with them (any other path is counted as `other`, so clients cannot mint label values).

export const routes = {
  predict: '/predict',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
  models: '/models',
  openapi: '/openapi.json',
  docs: '/docs',
  /** GET /docs/<asset>: the docs page's files. */
  docsAsset: '/docs/:asset',
} as const;

/** A request's route label: a known path, `/docs/*` for the docs page's files, else `other`. */
const known = new Set<string>(Object.values(routes));

export function routeLabel(path: string): string {
  if (known.has(path)) return path;
  return path.startsWith(`${routes.docs}/`) ? '/docs/*' : 'other';
}
