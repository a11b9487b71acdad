// The parts an actor host holds for its gateways: part ids are a gateway's own, so each incoming
// part gets a local id here (two gateways' part 17 never meet in one mailbox), mapped back to its
// gateway's results subject and part id on the way out; a withdrawal finds only the parts of the
// gateway that sent it. An entry lives until the part's thread answers for it.
//
// Bounded per gateway: at most `maxPerGateway` parts of one gateway name (all its starts), and at
// most `maxFloatsPerGateway` floats of their vectors, are held at once; a part beyond either is
// not taken (add returns undefined, and the host answers it at once), so one gateway cannot fill
// the host (its parts, or its memory) for the others; and at most `maxFloatsTotal` floats of all
// gateways together, so a key holder speaking as many gateway names (on a NATS server without a
// user per node) cannot take the host's memory past that either.

import {forEachResult} from '../protocol/messages.ts';
import type {ResultsMessage} from '../protocol/messages.ts';
import {ResultsBuffer} from '../protocol/outbox.ts';

export interface Held {
  /** Its gateway's name (the sender its subject and signature name). */
  readonly gateway: string;
  /** Its gateway's results subject (that gateway, that start of it). */
  readonly to: string;
  readonly partId: number;
  readonly thread: number;
  readonly key: string;
  /** Its vector's length. */
  readonly floats: number;
}

/** Floats of one gateway's vectors an actor host holds at most (256 MiB): MAX_PENDING_TOTAL bounds their count. */
export const maxFloatsPerGateway = 32 * 1024 * 1024;
/** Floats of all gateways' vectors an actor host holds at most (1 GiB). */
export const maxFloatsTotal = 4 * maxFloatsPerGateway;

export class HeldParts {
  /** local part id -> where it came from. */
  readonly #held = new Map<number, Held>();
  /** `${to} ${partId}` -> local part id, for withdrawals. */
  readonly #local = new Map<string, number>();
  /** Gateway name -> parts of it held (no entry at 0). */
  readonly #perGateway = new Map<string, number>();
  /** Gateway name -> floats of its parts held (no entry at 0). */
  readonly #floatsPerGateway = new Map<string, number>();
  readonly #maxPerGateway: number;
  readonly #maxFloats: number;
  readonly #maxTotal: number;
  #totalFloats = 0;
  #seq = 0;

  constructor(maxPerGateway: number, maxFloats = maxFloatsPerGateway, maxTotal = maxFloatsTotal) {
    this.#maxPerGateway = maxPerGateway;
    this.#maxFloats = maxFloats;
    this.#maxTotal = maxTotal;
  }

  /** Floats of all gateways' vectors held now. */
  get floats(): number {
    return this.#totalFloats;
  }

  get size(): number {
    return this.#held.size;
  }

  /** Parts of `gateway` held now. */
  heldFor(gateway: string): number {
    return this.#perGateway.get(gateway) ?? 0;
  }

  /** Floats of `gateway`'s vectors held now. */
  floatsFor(gateway: string): number {
    return this.#floatsPerGateway.get(gateway) ?? 0;
  }

  /** A part from the gateway at `to`: its local id, or undefined when that gateway has its most held (parts or floats). */
  add(held: Held): number | undefined {
    const count = this.heldFor(held.gateway);
    const floats = this.floatsFor(held.gateway) + held.floats;
    if (count >= this.#maxPerGateway || floats > this.#maxFloats || this.#totalFloats + held.floats > this.#maxTotal)
      return undefined;
    this.#totalFloats += held.floats;
    this.#perGateway.set(held.gateway, count + 1);
    this.#floatsPerGateway.set(held.gateway, floats);
    const local = ++this.#seq;
    this.#held.set(local, held);
    this.#local.set(`${held.to} ${held.partId}`, local);
    return local;
  }

  /** The local id of the gateway's part, while it is held. */
  localOf(to: string, partId: number): number | undefined {
    return this.#local.get(`${to} ${partId}`);
  }

  /** The part's thread answered for it: its entry, taken out (undefined when not held). */
  release(local: number): Held | undefined {
    const held = this.#held.get(local);
    if (!held) return undefined;
    this.#held.delete(local);
    this.#local.delete(`${held.to} ${held.partId}`);
    const count = this.heldFor(held.gateway) - 1;
    if (count > 0) this.#perGateway.set(held.gateway, count);
    else this.#perGateway.delete(held.gateway);
    this.#totalFloats -= held.floats;
    const floats = this.floatsFor(held.gateway) - held.floats;
    if (count > 0) this.#floatsPerGateway.set(held.gateway, floats);
    else this.#floatsPerGateway.delete(held.gateway);
    return held;
  }

  /**
   * A thread's results, each released and put in its own gateway's buffer (by results subject)
   * with the gateway's part id; a batch's report goes with them to every gateway that had rows in
   * it. A result for a part no longer held (its gateway is gone) is dropped.
   */
  answers(message: ResultsMessage): Map<string, ResultsBuffer> {
    const out = new Map<string, {buffer: ResultsBuffer; keys: Set<string>}>();
    const route = (local: number): {buffer: ResultsBuffer; partId: number} | undefined => {
      const held = this.release(local);
      if (!held) return undefined;
      let entry = out.get(held.to);
      if (!entry) {
        entry = {buffer: new ResultsBuffer(), keys: new Set()};
        out.set(held.to, entry);
      }
      entry.keys.add(held.key);
      return {buffer: entry.buffer, partId: held.partId};
    };
    forEachResult(message, {
      prediction(local, value, batch) {
        const to = route(local);
        to?.buffer.prediction(to.partId, value, batch);
      },
      error(local, code, text, batch) {
        const to = route(local);
        to?.buffer.error(to.partId, code, text, batch);
      },
      withdrawn(local) {
        const to = route(local);
        to?.buffer.withdrawn(to.partId);
      },
    });
    for (const report of message.reports)
      for (const entry of out.values()) if (entry.keys.has(report.key)) entry.buffer.report(report);
    return new Map([...out].map(([to, {buffer}]) => [to, buffer]));
  }

  /** Takes out every part held on `thread` (it died). */
  releaseThread(thread: number): Held[] {
    const out: Held[] = [];
    for (const [local, held] of [...this.#held]) if (held.thread === thread && this.release(local)) out.push(held);
    return out;
  }
}
