// The parts an actor host holds for its gateways: part ids are a gateway's own, so each incoming
// part gets a local id here (two gateways' part 17 never meet in one mailbox), mapped back to its
// gateway's results subject and part id on the way out; a withdrawal finds only the parts of the
// gateway that sent it. An entry lives until the part's thread answers for it.
//
// Bounded per gateway: at most `maxPerGateway` parts of one gateway name (all its starts) are
// held at once; a part beyond that is not taken (add returns undefined, and the host answers it
// at once), so one gateway, or a key holder speaking as many, cannot fill the host for the others.

export interface Held {
  /** Its gateway's name (the sender its subject and signature name). */
  readonly gateway: string;
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
  /** Gateway name -> parts of it held (no entry at 0). */
  readonly #perGateway = new Map<string, number>();
  readonly #maxPerGateway: number;
  #seq = 0;

  constructor(maxPerGateway: number) {
    this.#maxPerGateway = maxPerGateway;
  }

  get size(): number {
    return this.#held.size;
  }

  /** Parts of `gateway` held now. */
  heldFor(gateway: string): number {
    return this.#perGateway.get(gateway) ?? 0;
  }

  /** A part from the gateway at `to`: its local id, or undefined when that gateway has its most held. */
  add(held: Held): number | undefined {
    const count = this.heldFor(held.gateway);
    if (count >= this.#maxPerGateway) return undefined;
    this.#perGateway.set(held.gateway, count + 1);
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
    return held;
  }

  /** Takes out every part held on `thread` (it died). */
  releaseThread(thread: number): Held[] {
    const out: Held[] = [];
    for (const [local, held] of [...this.#held]) if (held.thread === thread && this.release(local)) out.push(held);
    return out;
  }
}
