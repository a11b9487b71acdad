// Who is in the cluster, as a gateway hears it. Each actor host announces its threads in a
// signed heartbeat every 400 ms (the signature, freshness and sender were checked before this
// sees it: src/cluster/wire.ts); each thread is a *member* that keys are placed on, by
// rendezvous over the names of the members that take new keys. Pure: the clock is passed in;
// gateway-transport.ts wires it to NATS and to the coordinator.
//
//   heartbeat, new host        joins (one member per thread), within the join rate and the table
//   heartbeat, leaving         takes no new keys; what it holds is still answered
//   heartbeat again, not leaving  takes new keys again (a leaving state is left, never stuck)
//   heartbeat, other boot or thread count   the host restarted: its old members are gone (what
//                              they held fails), the new ones join
//   silent for timeoutMs       gone: what its members held fails with worker_failed
//
// Bounded: at most `maxMembers` members in all, and new hosts join at most `joinsPerSecond` (a
// burst of `joinBurst`): a heartbeat past either is refused, and the host's next one tries again.
// Each index (the coordinator's thread number) is used once in the life of this process.

import type {Placement} from '../coordinator/transport.ts';
import {rendezvous} from './rendezvous.ts';

export interface Member {
  /** The coordinator's thread number for this member, never reused. */
  readonly index: number;
  /** `<host>/<thread>`: its name for rendezvous, the same after the host restarts. */
  readonly name: string;
  readonly host: string;
  readonly boot: string;
  readonly thread: number;
}

/** What a membership change means for the gateway (one call per host, never one per thread). */
export interface MembershipEvents {
  joined(host: string, members: readonly Member[]): void;
  leaving(host: string, members: readonly Member[]): void;
  /** A leaving host heartbeats as a live one again. */
  back(host: string, members: readonly Member[]): void;
  /** Silent for too long (`silentMs`), or restarted (`silentMs` undefined). */
  gone(host: string, members: readonly Member[], silentMs?: number): void;
}

export const membershipProblems = ['join_rate', 'member_limit'] as const;
export type MembershipProblem = (typeof membershipProblems)[number];

export interface MembershipLimits {
  /** A host not heard from for this long is gone. */
  readonly timeoutMs: number;
  /** Members (threads) of all hosts together. */
  readonly maxMembers: number;
  readonly joinsPerSecond: number;
  readonly joinBurst: number;
}

interface HostEntry {
  readonly boot: string;
  readonly members: readonly Member[];
  lastSeen: number;
  leaving: boolean;
}

export class Membership implements Placement {
  readonly #limits: MembershipLimits;
  readonly #events: MembershipEvents;
  readonly #hosts = new Map<string, HostEntry>();
  readonly #byIndex = new Map<number, Member>();
  /** Name -> member, of the members that take new keys. */
  readonly #placeable = new Map<string, Member>();
  #nextIndex = 0;
  #members = 0;
  #joinTokens: number;
  #refilledAt: number;

  constructor(limits: MembershipLimits, events: MembershipEvents, now: number) {
    this.#limits = limits;
    this.#events = events;
    this.#joinTokens = limits.joinBurst;
    this.#refilledAt = now;
  }

  /** Members taking new keys, and members leaving. */
  get counts(): {live: number; leaving: number} {
    return {live: this.#placeable.size, leaving: this.#members - this.#placeable.size};
  }

  /** Some member takes new keys. */
  get available(): boolean {
    return this.#placeable.size > 0;
  }

  member(index: number): Member | undefined {
    return this.#byIndex.get(index);
  }

  /** Thread `thread` of host `host` in its start `boot`, if it is a member. */
  find(host: string, boot: string, thread: number): Member | undefined {
    const entry = this.#hosts.get(host);
    return entry?.boot === boot ? entry.members[thread] : undefined;
  }

  /** The member a new key goes to (rendezvous over those taking new keys), or undefined. */
  place(key: string): number | undefined {
    const owner = rendezvous(key, this.#placeable.keys());
    return owner === undefined ? undefined : this.#placeable.get(owner)?.index;
  }

  /** A signed heartbeat from `host`: why it is refused, if it is. */
  heartbeat(host: string, boot: string, threads: number, leaving: boolean, now: number): MembershipProblem | undefined {
    let entry = this.#hosts.get(host);
    if (entry && (entry.boot !== boot || entry.members.length !== threads)) {
      this.#remove(host, entry);
      entry = undefined;
    }
    if (!entry) {
      // A host we do not have, saying it leaves: nothing to take from it.
      if (leaving) return undefined;
      const problem = this.#mayJoin(threads, now);
      if (problem) return problem;
      const members = Array.from({length: threads}, (_, thread) => ({
        index: this.#nextIndex++,
        name: `${host}/${thread}`,
        host,
        boot,
        thread,
      }));
      this.#hosts.set(host, {boot, members, lastSeen: now, leaving: false});
      this.#members += threads;
      for (const m of members) {
        this.#byIndex.set(m.index, m);
        this.#placeable.set(m.name, m);
      }
      this.#events.joined(host, members);
      return undefined;
    }
    entry.lastSeen = now;
    if (leaving === entry.leaving) return undefined;
    entry.leaving = leaving;
    if (leaving) {
      for (const m of entry.members) this.#placeable.delete(m.name);
      this.#events.leaving(host, entry.members);
    } else {
      for (const m of entry.members) this.#placeable.set(m.name, m);
      this.#events.back(host, entry.members);
    }
    return undefined;
  }

  /** Ends every host silent for longer than timeoutMs. */
  sweep(now: number): void {
    for (const [host, entry] of this.#hosts)
      if (now - entry.lastSeen > this.#limits.timeoutMs) this.#remove(host, entry, now - entry.lastSeen);
  }

  #remove(host: string, entry: HostEntry, silentMs?: number): void {
    this.#hosts.delete(host);
    this.#members -= entry.members.length;
    for (const m of entry.members) {
      this.#byIndex.delete(m.index);
      if (this.#placeable.get(m.name) === m) this.#placeable.delete(m.name);
    }
    this.#events.gone(host, entry.members, silentMs);
  }

  /** Whether `threads` more members may join now (within the table and the join rate). */
  #mayJoin(threads: number, now: number): MembershipProblem | undefined {
    if (this.#members + threads > this.#limits.maxMembers) return 'member_limit';
    const {joinsPerSecond, joinBurst} = this.#limits;
    this.#joinTokens = Math.min(joinBurst, this.#joinTokens + ((now - this.#refilledAt) / 1000) * joinsPerSecond);
    this.#refilledAt = now;
    if (this.#joinTokens < 1) return 'join_rate';
    this.#joinTokens -= 1;
    return undefined;
  }
}
