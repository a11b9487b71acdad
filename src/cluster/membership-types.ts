// The types of the gateway's member table (membership.ts): its members, what it tells the
// gateway, its bounds and the heartbeats it reads.

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
  /** Silent for too long (`silentMs`), or restarted (`silentMs` undefined); `left` when it had said it was leaving. */
  gone(host: string, members: readonly Member[], silentMs: number | undefined, left: boolean): void;
}

export const membershipProblems = ['join_rate', 'restart_rate', 'member_limit', 'thread_change'] as const;
export type MembershipProblem = (typeof membershipProblems)[number];

export interface MembershipLimits {
  /** A host not heard from for this long is gone. */
  readonly timeoutMs: number;
  /** Members (threads) of all hosts together. */
  readonly maxMembers: number;
  readonly joinsPerSecond: number;
  readonly joinBurst: number;
  /** A leaving host takes new keys again only once it has sent no leaving beat for this long (flapping is damped). */
  readonly backAfterMs: number;
  /** A name seen before starts again (or comes back after it was gone) at most once per restartMs, outside the join bucket. */
  readonly restartMs: number;
  /** How long the start of a host that is gone is remembered (an earlier one is refused meanwhile). */
  readonly rememberMs: number;
}

/** One heartbeat, as wire.ts read it. */
export interface Heartbeat {
  readonly host: string;
  readonly boot: string;
  /** The boot's signed start time. */
  readonly started: number;
  readonly threads: number;
  readonly leaving: boolean;
}
