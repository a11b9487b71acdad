import test from 'ava';
import {WaitWindow} from '../workers/wait-window.ts';

test('before any measured call the window is 20 ms', (t) => {
  t.is(new WaitWindow(0.02).ms, 20);
});

test('a steady backend: the window converges to the fraction of its latency', (t) => {
  const w = new WaitWindow(0.02);
  for (let i = 0; i < 50; i++) w.observe(5000);
  t.is(w.ms, 100);
  const jittery = new WaitWindow(0.02);
  for (let i = 0; i < 200; i++) jittery.observe(i % 2 ? 3000 : 7000);
  t.true(Math.abs(jittery.ms - 100) < 10, `${jittery.ms}`);
});

test('the window stays within 5..200 ms whatever the backend does', (t) => {
  const fast = new WaitWindow(0.02);
  for (let i = 0; i < 20; i++) fast.observe(1);
  t.is(fast.ms, 5);
  const slow = new WaitWindow(0.02);
  for (let i = 0; i < 20; i++) slow.observe(60_000);
  t.is(slow.ms, 200);
  const junk = new WaitWindow(0.02);
  junk.observe(Number.NaN);
  junk.observe(-5);
  t.is(junk.ms, 20, 'non-measurements are ignored');
});

test('it follows a backend that slows down, and one that speeds up, within a few calls', (t) => {
  const w = new WaitWindow(0.02);
  for (let i = 0; i < 30; i++) w.observe(1000);
  t.is(w.ms, 20);
  let calls = 0;
  while (w.ms < 90) {
    w.observe(5000);
    calls++;
  }
  t.true(calls <= 12, `slowed down: ${calls} calls to reach 90 ms`);
  calls = 0;
  while (w.ms > 25) {
    w.observe(1000);
    calls++;
  }
  t.true(calls <= 12, `sped up: ${calls} calls to fall back to 25 ms`);
});
