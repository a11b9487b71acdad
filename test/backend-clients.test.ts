import test from 'ava';
import type {BackendOptions} from '../src/config.ts';
import type {Backend, BackendCall, BackendReply} from '../workers/backend/backend.ts';
import {BackendClients} from '../workers/backend/create.ts';

class Held implements Backend {
  closed = false;
  readonly pending: (() => void)[] = [];
  predict(_call: BackendCall): Promise<BackendReply> {
    return new Promise((resolve) => this.pending.push(() => resolve({values: [1]})));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const http = (url: string): BackendOptions => ({kind: 'http', url, timeoutMs: 1000, retries: 0, maxReplyBytes: 1024});
const call: BackendCall = {model: 'm', agentType: 't', rows: [new Float64Array([1])], deadline: Date.now() + 1000};

test('one client per backend; a client no model uses closes only once its calls in flight are done', async (t) => {
  const made: Held[] = [];
  const clients = new BackendClients(() => {
    const b = new Held();
    made.push(b);
    return b;
  });
  const a = clients.get(http('http://a/'));
  t.is(clients.get(http('http://a/')), a, 'same URL, same client');
  clients.get(http('http://b/'));
  t.is(made.length, 2);
  const inFlight = a.predict(call);
  clients.retain([http('http://b/')]);
  t.false(made[0].closed, 'a is still busy');
  t.true(made[1].closed === false);
  made[0].pending[0]();
  await inFlight;
  t.true(made[0].closed, 'closed when its last call finished');
  t.not(clients.get(http('http://a/')), a, 'asked again, a new client is made');
  clients.retain([http('http://a/')]);
  t.true(made[1].closed, 'an idle unused client closes at once');
});
