// Who is in the cluster, as a gateway hears it. Each actor host announces its threads in a
// signed heartbeat every 400 ms (the signature, freshness and sender were checked before this
// sees it: src/cluster/wire.ts); each thread is a *member* that keys are placed on. A key's host
// is chosen by rendezvous over the names of the hosts taking new keys, then its thread by
// rendezvous over that host's members, named `<host>/<thread>`. Names are the same in every start
// of a host: a host that restarts gets its own keys back, and however many threads a host claims,
// it takes no key of another host (only its own share of keys spreads over more threads). Pure: the clock is passed in;
// gateway-transport.ts wires it to NATS and to the coordinator.
//
// One start per host name. Each heartbeat carries its boot and the boot's signed start time
// (nats.ts bootId); starts are ordered by that time (equal times: by boot id).
//
//   heartbeat, new host           joins (one member per thread), within the join rate and the table
//   heartbeat, leaving            takes no new keys; what it holds is still answered
//   heartbeat again, not leaving  takes new keys again (a leaving state is left, never stuck); a
//                                 host that flaps (leaves again within `backAfterMs` of coming
//                                 back) stays leaving until it has sent no leaving beat for
//                                 backAfterMs: no event and no re-placing of keys per beat
//   heartbeat, later start        the host restarted: its old members are gone at once (what they
//                                 held fails with worker_failed, nothing waits for its deadline),
//                                 the new ones join
//   heartbeat, earlier start      refused (old_boot): an earlier start never comes back, while the
//                                 host is a member and for `rememberMs` after it is gone (a
//                                 recorded heartbeat is stale long before: freshness is 10 s)
//   heartbeat, same start, other thread count   refused (thread_change): threads change only
//                                 with a new start; the count is 1..256 (ACTOR_POOL_SIZE's bound,
//                                 checked when the frame is read: frame-schema.ts)
//   silent for timeoutMs          gone: what its members held fails with worker_failed
//
// Bounded: at most `maxMembers` members in all, and hosts of new names join at most
// `joinsPerSecond` (a burst of `joinBurst`), shared by all names; a name seen before (a new start
// of a host we have, or one gone and back) starts at most once per `restartMs`, on its own rate:
// one host's credential restarting it in a loop never spends the shared bucket, so it cannot keep
// other hosts (or a new gateway's first view of them) out. A heartbeat past a bound is refused
// (join_rate, restart_rate, member_limit), the live entry of its host is kept, and the host's next
// one tries again. The starts of hosts that are gone are remembered for `rememberMs` (so at
// most joinsPerSecond × rememberMs / 1000 + joinBurst of them). Each index (the coordinator's
// thread number) is used once in the life of this process.

import type {Placement} from '../coordinator/transport.ts';
import {startsLater} from './replay.ts';
import {rendezvous} from './rendezvous.ts';
import type {Heartbeat, Member, MembershipEvents, MembershipLimits, MembershipProblem} from './membership-types.ts';

export {membershipProblems} from './membership-types.ts';
export type {Heartbeat, Member, MembershipEvents, MembershipLimits, MembershipProblem} from './membership-types.ts';

/** A start of a host: its boot and that boot's start time. */
interface Start {
  readonly boot: string;
  readonly started: number;
}

/** A start that was admitted, and when. */
interface Admitted extends Start {
  readonly admittedAt: number;
}

interface HostEntry extends Admitted {
  readonly members: readonly Member[];
  lastSeen: number;
  leaving: boolean;
  /** Its latest leaving beat, and when it last came back. */
  leavingAt: number;
  backAt: number;
  /** It left again within backAfterMs of coming back. */
  flapping: boolean;
}

export class Membership implements Placement {
  readonly #limits: MembershipLimits;
  readonly #events: MembershipEvents;
  readonly #hosts = new Map<string, HostEntry>();
  readonly #byIndex = new Map<number, Member>();
  /** The hosts that take new keys (not leaving). */
  readonly #placeable = new Set<string>();
  /** Members of those hosts. */
  #live = 0;
  /** Host -> its latest start and when it was gone, for hosts that are gone (rememberMs). */
  readonly #retired = new Map<string, Admitted & {readonly goneAt: number}>();
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
    return {live: this.#live, leaving: this.#members - this.#live};
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

  /** The member a new key goes to (its host by rendezvous over hosts taking new keys, then its thread), or undefined. */
  place(key: string): number | undefined {
    const host = rendezvous(key, this.#placeable);
    const members = host === undefined ? undefined : this.#hosts.get(host)?.members;
    if (!members) return undefined;
    const name = rendezvous(
      key,
      members.map((m) => m.name),
    );
    return members.find((m) => m.name === name)?.index;
  }

  /**
   * Why a later start of `host` would be refused now (its own rate, the table), changing nothing:
   * asked before the wire takes it as the host's latest start (wire.ts read's mayStart).
   */
  refusesStart(host: string, threads: number, now: number): MembershipProblem | undefined {
    const entry = this.#hosts.get(host) ?? this.#retired.get(host);
    const more = threads - (this.#hosts.get(host)?.members.length ?? 0);
    return entry ? this.#mayRestart(entry, more, now) : undefined;
  }

  /** A signed heartbeat: why it is refused, if it is. */
  heartbeat(beat: Heartbeat, now: number): MembershipProblem | 'old_boot' | undefined {
    const {host, boot, started, threads, leaving} = beat;
    const entry = this.#hosts.get(host);
    if (entry && entry.boot === boot) {
      if (entry.members.length !== threads) return 'thread_change';
      this.#beat(host, entry, leaving, now);
      return undefined;
    }
    if (entry) {
      if (!startsLater(started, boot, entry)) return 'old_boot';
      // A new start of a host we have: its name's own rate, never the shared join bucket; the
      // live entry stays unless the new start is admitted.
      const problem = this.#mayRestart(entry, threads - entry.members.length, now);
      if (problem) return problem;
      this.#remove(host, entry, now);
      if (!leaving) this.#join(beat, now);
      return undefined;
    }
    const retired = this.#retired.get(host);
    if (retired && retired.boot !== boot && !startsLater(started, boot, retired)) return 'old_boot';
    // A host we do not have, saying it leaves: nothing to take from it.
    if (leaving) return undefined;
    // A name seen before (gone, or restarted) joins at its own rate; only new names spend the shared bucket.
    const problem = retired ? this.#mayRestart(retired, threads, now) : this.#mayJoin(threads, now);
    if (problem) return problem;
    this.#join(beat, now);
    return undefined;
  }

  /** A heartbeat of the start we have: seen now; leaving, or back once it has beaten as live for backAfterMs. */
  #beat(host: string, entry: HostEntry, leaving: boolean, now: number): void {
    entry.lastSeen = now;
    if (leaving) entry.leavingAt = now;
    if (leaving === entry.leaving) return;
    // Damped: a host that was back less than backAfterMs ago and leaves again (it flaps) stays
    // leaving until it has sent no leaving beat for backAfterMs: not one event (and one
    // re-placing of its keys) per beat. A single leaving beat is left at the next live one.
    if (!leaving && entry.flapping && now - entry.leavingAt < this.#limits.backAfterMs) return;
    entry.leaving = leaving;
    if (leaving) {
      entry.flapping = now - entry.backAt < this.#limits.backAfterMs;
      this.#placeable.delete(host);
      this.#live -= entry.members.length;
      this.#events.leaving(host, entry.members);
    } else {
      this.#placeable.add(host);
      this.#live += entry.members.length;
      entry.backAt = now;
      this.#events.back(host, entry.members);
    }
  }

  /** Ends every host silent for longer than timeoutMs. */
  sweep(now: number): void {
    for (const [host, entry] of this.#hosts)
      if (now - entry.lastSeen > this.#limits.timeoutMs) this.#remove(host, entry, now, now - entry.lastSeen);
    for (const [host, retired] of this.#retired)
      if (now - retired.goneAt > this.#limits.rememberMs) this.#retired.delete(host);
  }

  #join({host, boot, started, threads}: Heartbeat, now: number): void {
    this.#retired.delete(host);
    const members = Array.from({length: threads}, (_, thread) => ({
      index: this.#nextIndex++,
      name: `${host}/${thread}`,
      host,
      boot,
      thread,
    }));
    this.#hosts.set(host, {
      boot,
      started,
      members,
      lastSeen: now,
      leaving: false,
      leavingAt: Number.NEGATIVE_INFINITY,
      backAt: Number.NEGATIVE_INFINITY,
      flapping: false,
      admittedAt: now,
    });
    this.#members += threads;
    for (const m of members) this.#byIndex.set(m.index, m);
    this.#placeable.add(host);
    this.#live += threads;
    this.#events.joined(host, members);
  }

  #remove(host: string, entry: HostEntry, now: number, silentMs?: number): void {
    this.#hosts.delete(host);
    this.#retired.set(host, {boot: entry.boot, started: entry.started, goneAt: now, admittedAt: entry.admittedAt});
    this.#members -= entry.members.length;
    if (this.#placeable.delete(host)) this.#live -= entry.members.length;
    for (const m of entry.members) this.#byIndex.delete(m.index);
    this.#events.gone(host, entry.members, silentMs, entry.leaving);
  }

  /** Whether a name seen before may start again now (at most one start per restartMs), with `more` members than it has. */
  #mayRestart(last: Admitted, more: number, now: number): MembershipProblem | undefined {
    if (this.#members + more > this.#limits.maxMembers) return 'member_limit';
    if (now - last.admittedAt < this.#limits.restartMs) return 'restart_rate';
    return undefined;
  }

  /** Whether `threads` more members of a new name may join now (within the table and the join rate). */
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
