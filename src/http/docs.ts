// GET /docs: Swagger UI rendering /openapi.json, served from the swagger-ui-dist package in
// node_modules (no CDN: this runs offline). Only the files named here are served.

import {readFile} from 'node:fs/promises';
import {createRequire} from 'node:module';
import path from 'node:path';
import type {Context} from 'koa';

const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agent-batcher API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const init = `window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, defaultModelsExpandDepth: 0});
});
`;

const assets: Record<string, {file?: string; body?: string; type: string}> = {
  'swagger-ui.css': {file: 'swagger-ui.css', type: 'text/css; charset=utf-8'},
  'swagger-ui-bundle.js': {file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8'},
  'favicon-32x32.png': {file: 'favicon-32x32.png', type: 'image/png'},
  'init.js': {body: init, type: 'text/javascript; charset=utf-8'},
};

// Swagger UI styles elements inline and shows data: images; everything else comes from here.
const docsPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'";

const cache = new Map<string, Buffer | string>();

export function docsPage(ctx: Context): void {
  ctx.set('Content-Security-Policy', docsPolicy);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = page;
}

export async function docsAsset(ctx: Context & {params: {asset?: string}}): Promise<void> {
  const name = ctx.params.asset ?? '';
  const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
  if (!asset) return; // 404 from the error middleware
  let body = cache.get(name);
  if (body === undefined) {
    body = asset.body ?? (await readFile(path.join(dist, asset.file!)));
    cache.set(name, body);
  }
  ctx.set('Cache-Control', 'public, max-age=3600');
  ctx.set('Content-Security-Policy', docsPolicy);
  ctx.type = asset.type;
  ctx.body = body;
}
