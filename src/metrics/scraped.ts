// The series asked for at scrape time, not counted as things happen: actor threads restarted,
// requests open, the mailboxes alive with each key's depth and calls in flight (asked of the
// threads), and a gateway's refused cluster frames. Each reads its source when /metrics is served.

import client from 'prom-client';
import type {ThreadStats} from '../protocol/messages.ts';
import type {KeyLabels} from './key-labels.ts';

export interface MetricsSources {
  /** Per-thread mailbox stats, asked at scrape time. */
  threadStats(): Promise<readonly ThreadStats[]>;
  restarts(): number;
  openRequests(): number;
  /** ROLE=gateway: cluster frames (and results) refused so far, by reason (src/cluster/wire.ts). */
  clusterRefusals?(): ReadonlyMap<string, number>;
}

/** Registers the scrape-time series with `registry`; `labelsOf` gives a key's labels (key-labels.ts). */
export function registerScraped(
  registry: client.Registry,
  sources: MetricsSources,
  labelsOf: (key: string) => KeyLabels,
): void {
  const registers = [registry];
  const keyLabels = ['agent_type', 'model'] as const;
  new client.Counter({
    name: 'agent_batcher_worker_restarts_total',
    help: 'Actor threads restarted after dying',
    registers,
    collect() {
      this.reset();
      this.inc(sources.restarts());
    },
  });
  if (sources.clusterRefusals) {
    const refusals = sources.clusterRefusals;
    new client.Counter({
      name: 'agent_batcher_cluster_refused_total',
      help: 'Cluster frames refused before any handler read them (unsigned, bad_signature, stale, replayed, …), and results for parts sent to another member (wrong_member), by reason',
      labelNames: ['reason'] as const,
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of refusals()) this.inc({reason}, count);
      },
    });
  }
  new client.Gauge({
    name: 'agent_batcher_open_requests',
    help: 'Client requests waiting for their answer',
    registers,
    collect() {
      this.set(sources.openRequests());
    },
  });
  const depth = new client.Gauge({
    name: 'agent_batcher_mailbox_depth',
    help: 'Rows waiting in a mailbox',
    labelNames: keyLabels,
    registers,
  });
  const inflight = new client.Gauge({
    name: 'agent_batcher_inflight_batches',
    help: 'Backend calls in flight per key',
    labelNames: keyLabels,
    registers,
  });
  new client.Gauge({
    name: 'agent_batcher_mailboxes',
    help: 'Mailboxes (actors) alive in the threads',
    registers,
    async collect() {
      const threads = await sources.threadStats().catch(() => []);
      depth.reset();
      inflight.reset();
      let actors = 0;
      for (const thread of threads) {
        actors += thread.actors;
        for (const k of thread.keys) {
          const labels = labelsOf(k.key);
          depth.inc(labels, k.pending);
          inflight.inc(labels, k.inflight);
        }
      }
      this.set(actors);
    },
  });
}
