import test from 'ava';
import {mkdir, writeFile} from 'node:fs/promises';
import {Validator} from '@seriousme/openapi-schema-validator';
import {chromium} from 'playwright-core';
import {bias, predictRow} from '../src/simulator/formula.ts';
import {needPart} from './helpers/parts.ts';
import {post, startService} from './helpers/service.ts';
import type {Running} from './helpers/service.ts';

let running: Running;
test.before(async () => {
  running = await startService({API_KEYS: 'docs-key'});
});
test.after.always(() => running?.close());

test.serial('/openapi.json is valid OpenAPI 3.1 generated from the zod schemas', async (t) => {
  const document = (await (await fetch(`${running.url}/openapi.json`)).json()) as any;
  const validator = new Validator();
  const result = await validator.validate(document);
  t.true(result.valid, JSON.stringify(result.errors));
  t.is(validator.version, '3.1');
  const predict = document.paths['/predict'].post;
  t.deepEqual(Object.keys(predict.responses).sort(), ['200', '400', '401', '413', '415', '422', '502', '503', '504']);
  const agents = document.components.schemas.PredictRequest.properties.agents;
  t.is(agents.maxProperties, 256);
  t.is(agents.additionalProperties.properties.vector.maxItems, 4096);
  t.is(agents.additionalProperties.properties.model.pattern, '^[A-Za-z0-9][A-Za-z0-9._:/-]*$');
  t.deepEqual(predict.security, [{bearer: []}]);
  for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) t.truthy(document.paths[path]?.get, path);
});

test.serial("a request built from the document's example succeeds", async (t) => {
  const document = (await (await fetch(`${running.url}/openapi.json`)).json()) as any;
  const example = document.paths['/predict'].post.requestBody.content['application/json'].example;
  const reply = await post(`${running.url}/predict`, example, {authorization: 'Bearer docs-key'});
  t.is(reply.status, 200);
  for (const [id, agent] of Object.entries<any>(example.agents)) {
    t.is(reply.body.results[id].prediction, predictRow(bias(agent.model, agent.agent_type), agent.vector));
  }
});

test.serial(
  'the docs page renders in headless Chromium and shows the predict operation with its example',
  async (t) => {
    const executablePath = needPart(t, 'chromium');
    if (!executablePath) return;
    const browser = await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    t.teardown(() => browser.close());
    const page = await browser.newPage({viewport: {width: 1280, height: 1400}});
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('requestfailed', (r) => problems.push(`${r.url()} failed`));
    // Nothing may come from outside: the page works offline.
    page.on(
      'request',
      (r) =>
        !r.url().startsWith(running.url) && !r.url().startsWith('data:') && problems.push(`outside request ${r.url()}`),
    );
    await page.goto(`${running.url}/docs`);
    const operation = page.locator('#operations-default-predict');
    await operation.waitFor({timeout: 15_000});
    t.regex(await operation.innerText(), /POST\s*\/predict/);
    await operation.locator('.opblock-summary').click();
    await page.getByText('scout-1').first().waitFor({timeout: 10_000});
    const text = await page.locator('#swagger-ui').innerText();
    t.regex(text, /resnet-50/, 'the request example is shown');
    t.regex(text, /validation_error/, 'the error responses are shown');
    t.deepEqual(problems, []);
    const shot = await page.screenshot({fullPage: false});
    t.true(shot.length > 10_000);
    if (process.env.UPDATE_SCREENSHOT) {
      await mkdir(new URL('./screenshots/', import.meta.url), {recursive: true});
      await writeFile(new URL('./screenshots/docs.png', import.meta.url), shot);
    }
  },
);
