// Load shedding by memory. Every open request costs heap on the main thread (about 14 KB held for
// the backend's seconds, plus its body while it is parsed), and V8 ends the process when the heap
// reaches its limit. Past MAX_HEAP_FRACTION of that limit new requests are refused (503
// overloaded, Retry-After) before their bodies are read, so a flood of clients is turned away
// instead of taking the gateway, and everyone's requests in flight, down with it.

import {getHeapStatistics} from 'node:v8';
import type {HeapInfo} from 'node:v8';

/** The heap is read at most this often: admission stays a comparison, not a V8 call. */
const sampleEveryMs = 20;

/** True while the heap in use is above `fraction` of its limit (`now` in ms: tests pass their clock). */
export function heapGuard(
  fraction: number,
  stats: () => Pick<HeapInfo, 'used_heap_size' | 'heap_size_limit'> = getHeapStatistics,
  now: () => number = () => performance.now(),
): () => boolean {
  let readAt = Number.NEGATIVE_INFINITY;
  let full = false;
  return () => {
    const at = now();
    if (at - readAt >= sampleEveryMs) {
      readAt = at;
      const heap = stats();
      full = heap.used_heap_size > fraction * heap.heap_size_limit;
    }
    return full;
  };
}
