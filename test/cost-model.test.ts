import test from 'ava';
import {CostBook, CostModel} from '../workers/cost-model.ts';

const near = (a: number, b: number, tolerance: number) => Math.abs(a - b) <= tolerance;

test('a backend whose cost grows with the batch is fitted as fixed + per_row × rows', (t) => {
  const cost = new CostModel();
  for (let i = 0; i < 200; i++) {
    const rows = 1 + (i % 64);
    cost.observe(rows, 0.2 + 0.05 * rows);
  }
  const fit = cost.fit!;
  t.true(near(fit.fixedMs, 0.2, 1e-9) && near(fit.perRowMs, 0.05, 1e-9), JSON.stringify(fit));
  t.true(near(cost.predict(128)!, 0.2 + 0.05 * 128, 1e-9));
});

test('a constant-cost backend (3–7 s whatever the batch, like the simulated one) fits flat: no cost per row to speak of', (t) => {
  const cost = new CostModel();
  let seed = 3;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 500; i++) cost.observe(1 + Math.floor(random() * 32), 3000 + 4000 * random());
  const fit = cost.fit!;
  // The slope is noise around 0: whatever it is, a full batch is predicted within the backend's own spread.
  t.true(fit.perRowMs * 32 < 1000, JSON.stringify(fit));
  t.true(cost.predict(1)! > 3000 && cost.predict(32)! < 7000, JSON.stringify(fit));
});

test('while every batch has the same size the fit is flat (fixed = mean, per_row = 0), never negative', (t) => {
  const cost = new CostModel();
  for (let i = 0; i < 20; i++) cost.observe(32, 100 + (i % 2));
  t.deepEqual({...cost.fit!, calls: 0}, {fixedMs: cost.fit!.fixedMs, perRowMs: 0, calls: 0});
  t.true(near(cost.fit!.fixedMs, 100.5, 0.5));
  const falling = new CostModel();
  for (let i = 0; i < 50; i++) falling.observe(1 + (i % 10), 50 - (i % 10));
  t.is(falling.fit!.perRowMs, 0, 'a cost that falls with the batch is noise: flat');
});

test('old calls are forgotten: after the backend gets slower the fit follows within about a hundred calls', (t) => {
  const cost = new CostModel();
  for (let i = 0; i < 300; i++) cost.observe(1 + (i % 16), 1 + 0.1 * (1 + (i % 16)));
  for (let i = 0; i < 150; i++) cost.observe(1 + (i % 16), 5 + 0.5 * (1 + (i % 16)));
  const fit = cost.fit!;
  t.true(near(fit.fixedMs, 5, 0.5) && near(fit.perRowMs, 0.5, 0.05), JSON.stringify(fit));
});

test('one very slow call (a pause) cannot swing a warm fit; nonsense observations are ignored', (t) => {
  const cost = new CostModel();
  for (let i = 0; i < 50; i++) cost.observe(1 + (i % 8), 1 + 0.5 * (1 + (i % 8)));
  const before = cost.predict(8)!;
  cost.observe(8, 10_000);
  t.true(cost.predict(8)! < before * 1.5, `${before} -> ${cost.predict(8)}`);
  cost.observe(0, 5);
  cost.observe(4, Number.NaN);
  cost.observe(4, -1);
  t.true(cost.predict(8)! < before * 1.5);
  t.is(new CostModel().predict(4), undefined, 'nothing is predicted before the first call');
});

test('a cost book keeps at most its bound of keys, the least recently fed forgotten first', (t) => {
  const book = new CostBook(3);
  for (const key of ['a', 'b', 'c']) book.observe(key, 1, 1);
  book.observe('a', 1, 2);
  book.observe('d', 1, 1);
  t.deepEqual([...book.fits()].map(([key]) => key).sort(), ['a', 'c', 'd']);
});
