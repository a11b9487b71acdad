// Every open request's deadline, with one timer for them all: a binary min-heap on the deadline,
// each entry knowing its own place in it, so that a request answered early leaves in O(log n)
// and nothing waits in here after its request is done. A timer per request would keep a
// Timeout, a closure and its context alive for each of thousands of open requests.

export interface Timed {
  /** Epoch ms. */
  readonly deadline: number;
  /** Its index in the heap while queued, -1 when not. Owned by the queue. */
  heapIndex: number;
}

export class DeadlineQueue<T extends Timed> {
  readonly #heap: T[] = [];
  readonly #expire: (item: T) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires (epoch ms), if armed. */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(expire: (item: T) => void, now: () => number = Date.now) {
    this.#expire = expire;
    this.#now = now;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** The item due first, if any. */
  get first(): T | undefined {
    return this.#heap[0];
  }

  add(item: T): void {
    item.heapIndex = this.#heap.length;
    this.#heap.push(item);
    this.#up(item.heapIndex);
    if (item.deadline < this.#armedFor) this.#arm();
  }

  /**
   * Takes the item out (no-op when it is not queued). The timer stays armed for the earliest
   * deadline it was set for (firing early only re-arms it), unless the queue is now empty.
   */
  delete(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    item.heapIndex = -1;
    const last = this.#heap.pop() as T;
    if (this.#heap.length === 0) this.close();
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.heapIndex = i;
    this.#down(i);
    this.#up(last.heapIndex);
  }

  /** Stops the timer (items stay queued; nothing expires until the next add re-arms it). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const first = this.#heap[0];
    if (first === undefined) {
      this.#timer = undefined;
      this.#armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    this.#armedFor = first.deadline;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, first.deadline - this.#now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = this.#now();
    for (let first = this.#heap[0]; first !== undefined && first.deadline <= now; first = this.#heap[0]) {
      this.delete(first);
      this.#expire(first);
    }
    this.#arm();
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].deadline <= item.deadline) break;
      heap[i] = heap[parent];
      heap[i].heapIndex = i;
      i = parent;
    }
    heap[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const item = heap[i];
    const n = heap.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1].deadline < heap[child].deadline) child++;
      if (heap[child].deadline >= item.deadline) break;
      heap[i] = heap[child];
      heap[i].heapIndex = i;
      i = child;
    }
    heap[i] = item;
    item.heapIndex = i;
  }
}
