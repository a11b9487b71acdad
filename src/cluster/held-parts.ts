// The parts an actor host holds for its gateways: part ids are a gateway's own, so each incoming
// part gets a local id here (two gateways' part 17 never meet in one mailbox), mapped back to its
// gateway's results subject and part id on the way out; a withdrawal finds only the parts of the
// gateway that sent it. An entry lives until the part's thread answers for it.

export interface Held {
  /** Its gateway's results subject (that gateway, that start of it). */
  readonly to: string;
  readonly partId: number;
  readonly thread: number;
  readonly key: string;
}

export class HeldParts {
  /** local part id -> where it came from. */
  readonly #held = new Map<number, Held>();
  /** `${to} ${partId}` -> local part id, for withdrawals. */
  readonly #local = new Map<string, number>();
  #seq = 0;

  get size(): number {
    return this.#held.size;
  }

  /** A part from the gateway at `to`: its local id. */
  add(held: Held): number {
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
    return held;
  }

  /** Takes out every part held on `thread` (it died). */
  releaseThread(thread: number): Held[] {
    const out: Held[] = [];
    for (const [local, held] of [...this.#held]) if (held.thread === thread && this.release(local)) out.push(held);
    return out;
  }
}
