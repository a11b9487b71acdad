// When to cut a batch (DESIGN §5), as a pure data structure: no timers, no I/O. The caller
// passes `now` in, so tests drive it with plain numbers and never sleep.
//
// Rows wait per vector length (a batch has one length). A group is due when it holds
// `maxBatchSize` rows, when its oldest row has waited `maxWaitMs`, or when the mailbox is
// draining (shutdown); its batch is then filled from the clients of its rows in turn, a row
// each, not in arrival order: one client's backlog delays another's rows by one row per round.
// Due groups are cut while fewer than `maxConcurrentBatches` calls are in flight (0 = unlimited),
// so a held backlog is cut as soon as a slot frees; they take turns, the one served longest ago
// first (then the one with the oldest row), so a backlog of one length does not hold back another.
//
// With a latency SLO (a model's `latency_slo_ms`, DESIGN §11) a group is also due once waiting any
// longer would make its oldest row miss the SLO, and a batch takes no more rows than the SLO
// allows (workers/slo-cut.ts), the oldest row first, then the clients in turn. An in-thread model (onnx) is work-conserving with this same queue:
// maxWaitMs 0 and one call at a time, so an idle runtime starts at once with what is waiting and
// a busy one gathers rows that the next batch takes, up to maxBatchSize.

/** The policy's settings now; the actor replaces them when its window or its registry entry changes. */
export interface QueueOptions {
  readonly maxBatchSize: number;
  /** This key's batch window now, in ms (MAX_WAIT_MS, or its adaptive window). */
  readonly maxWaitMs: number;
  readonly maxConcurrentBatches: number;
  /** The model's latency SLO with the key's cost fit; undefined = none. */
  readonly slo?: Slo;
}

import {sloBatchSize, sloCutBy} from './slo-cut.ts';
import type {Slo} from './slo-cut.ts';

/** The rows of one batch (`items`, their count is the batch size), all of one vector length. */
export interface Batch<T> {
  readonly vectorLength: number;
  readonly items: T[];
}

/** An array used as a queue: `shift` moves a head, and the array is compacted now and then. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T {
    return this.#items[this.#head];
  }

  shift(): T {
    const item = this.#items[this.#head++];
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Keeps only the items that pass `keep`, in order. */
  retain(keep: (item: T) => boolean): void {
    this.#items = this.#items.slice(this.#head).filter(keep);
    this.#head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i];
  }
}

/**
 * A waiting row; `taken` once it left in a batch or was removed. Queues drop such entries lazily,
 * so a taken entry lets go of its item at once (a row's vector is a view into its whole dispatch).
 */
interface Entry<T> {
  item: T | undefined;
  readonly arrival: number;
  readonly client: number;
  taken: boolean;
}

/** One client's rows in a group, oldest first. */
interface Lane<T> {
  readonly client: number;
  readonly entries: Fifo<Entry<T>>;
}

/**
 * The rows of one vector length. Its oldest row decides when it is due (arrival order); a batch
 * is then filled from its clients in turn, one row each round, so a client with a backlog of
 * thousands does not make a client with one row wait behind all of them.
 */
class Group<T> {
  /** Every row in arrival order. */
  readonly #order = new Fifo<Entry<T>>();
  readonly #lanes = new Map<number, Lane<T>>();
  /** The clients with rows, in turn order: the next row of a batch comes from the front one. */
  readonly #turns = new Fifo<Lane<T>>();
  size = 0;
  /** When a batch was last cut from this group (BatchQueue's count of cuts; 0: never). */
  servedAt = 0;

  push(item: T, arrival: number, client: number): void {
    const entry: Entry<T> = {item, arrival, client, taken: false};
    this.#order.push(entry);
    let lane = this.#lanes.get(client);
    if (!lane) {
      lane = {client, entries: new Fifo()};
      this.#lanes.set(client, lane);
      this.#turns.push(lane);
    }
    lane.entries.push(entry);
    this.size++;
  }

  /** The oldest waiting row's arrival; only while size > 0. */
  oldest(): number {
    while (this.#order.peek().taken) this.#order.shift();
    return this.#order.peek().arrival;
  }

  /**
   * Up to n rows, one from each client in turn; the next batch goes on from the next client. With
   * `oldestFirst` (a latency SLO, sized for the oldest row's wait) the oldest row goes first.
   */
  take(n: number, oldestFirst = false): T[] {
    const out: T[] = [];
    if (oldestFirst && n > 0 && this.size > 0) {
      this.oldest();
      const head = this.#order.peek();
      out.push(take(head));
      this.size--;
      // That was its client's turn, if its turn was next.
      if (this.#turns.peek().client === head.client) this.#turns.push(this.#turns.shift());
    }
    while (out.length < n && this.size > 0) {
      const lane = this.#turns.shift();
      const entry = untaken(lane.entries);
      if (entry) {
        out.push(take(entry));
        this.size--;
      }
      if (lane.entries.length > 0) this.#turns.push(lane);
      else this.#lanes.delete(lane.client);
    }
    this.#compact();
    return out;
  }

  /**
   * Rows taken out of turn stay in the arrival order until the oldest row before them leaves:
   * past twice the rows waiting, the order keeps only those (each lane is compacted as it turns).
   */
  #compact(): void {
    if (this.#order.length > 2 * this.size + 64) this.#order.retain((entry) => !entry.taken);
  }

  /** Takes out every waiting row that matches, in arrival order. */
  remove(match: (item: T) => boolean, into: T[]): void {
    for (const entry of this.#order) {
      if (entry.taken || !match(entry.item as T)) continue;
      into.push(take(entry));
      this.size--;
    }
    this.#compact();
  }
}

/** Marks the entry taken and hands over its item. */
function take<T>(entry: Entry<T>): T {
  const item = entry.item as T;
  entry.taken = true;
  entry.item = undefined;
  return item;
}

/** The lane's next row not yet taken, if any (taken rows before it are dropped). */
function untaken<T>(entries: Fifo<Entry<T>>): Entry<T> | undefined {
  while (entries.length > 0) {
    const entry = entries.shift();
    if (!entry.taken) return entry;
  }
  return undefined;
}

/**
 * Among due groups, the one served longest ago goes first, then the one whose oldest row is
 * oldest: a backlog of one vector length, always due, does not keep a due group of another
 * length waiting until it has drained.
 */
function servedBefore<T>(a: Group<T>, b: Group<T>): boolean {
  return a.servedAt !== b.servedAt ? a.servedAt < b.servedAt : a.oldest() < b.oldest();
}

export class BatchQueue<T> {
  #options: QueueOptions;
  readonly #groups = new Map<number, Group<T>>();
  #size = 0;
  /** Batches cut so far: due groups take turns, the one served longest ago first. */
  #cuts = 0;

  constructor(options: QueueOptions) {
    this.#options = options;
  }

  /** New settings for every cut from now on; rows already waiting keep their arrival times. */
  configure(options: QueueOptions): void {
    this.#options = options;
  }

  /** Rows waiting, all lengths. */
  get size(): number {
    return this.#size;
  }

  /** A row of `length` numbers from `client` (its number; rows without one count as one client, 0). */
  push(item: T, length: number, now: number, client = 0): void {
    let group = this.#groups.get(length);
    if (!group) {
      group = new Group<T>();
      this.#groups.set(length, group);
    }
    group.push(item, now, client);
    this.#size++;
  }

  #hasSlot(inflight: number): boolean {
    const limit = this.#options.maxConcurrentBatches;
    return limit === 0 || inflight < limit;
  }

  /**
   * Cuts every batch due at `now`, given `inflight` calls already in flight for this key.
   * With `drain`, every non-empty group is due (shutdown: nothing waits for MAX_WAIT_MS).
   */
  cut(now: number, inflight: number, drain = false): Batch<T>[] {
    const {maxBatchSize, slo} = this.#options;
    const out: Batch<T>[] = [];
    while (this.#hasSlot(inflight + out.length)) {
      let best: [number, Group<T>] | undefined;
      for (const entry of this.#groups) {
        const group = entry[1];
        if (group.size === 0) continue;
        const due = drain || group.size >= maxBatchSize || now >= this.#dueAt(group);
        if (due && (!best || servedBefore(group, best[1]))) best = entry;
      }
      if (!best) break;
      const [length, group] = best;
      group.servedAt = ++this.#cuts;
      const rows = slo
        ? sloBatchSize(slo, now - group.oldest(), group.size, maxBatchSize)
        : Math.min(group.size, maxBatchSize);
      const items = group.take(rows, slo !== undefined);
      this.#size -= items.length;
      if (group.size === 0) this.#groups.delete(length);
      out.push({vectorLength: length, items});
    }
    return out;
  }

  /**
   * The time at which the next batch comes due by waiting alone, or undefined when nothing
   * waits or no call slot is free (a freed slot is the next event then, not the clock).
   */
  nextDueAt(inflight: number): number | undefined {
    if (this.#size === 0 || !this.#hasSlot(inflight)) return undefined;
    let at = Infinity;
    for (const group of this.#groups.values()) at = Math.min(at, this.#dueAt(group));
    return at;
  }

  /** When a group comes due by waiting: its window ends, or (with an SLO) its oldest row could wait no longer. */
  #dueAt(group: Group<T>): number {
    const {maxWaitMs, maxBatchSize, slo} = this.#options;
    const byWindow = group.oldest() + maxWaitMs;
    return slo ? Math.min(byWindow, sloCutBy(slo, group.oldest(), Math.min(group.size, maxBatchSize))) : byWindow;
  }

  /** Takes out every waiting item that matches; returns them in arrival order per length. */
  remove(match: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [length, group] of this.#groups) {
      group.remove(match, removed);
      if (group.size === 0) this.#groups.delete(length);
    }
    this.#size -= removed.length;
    return removed;
  }
}
