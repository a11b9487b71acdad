// What a membership change (membership.ts) does on a gateway: a joined member gets its subject
// and a dispatch buffer, a gone one loses them (what this turn held for it, and the keys placed
// on it: reports.ts PlacedKeys) and what it held fails; the coordinator is told; each change is
// logged once per host (never per thread or per frame) and at a bounded rate per host
// (membership-log.ts).

import type {TransportEvents} from '../coordinator/transport.ts';
import {DispatchBuffer} from '../protocol/outbox.ts';
import type {Member, MembershipEvents, MembershipLimits} from './membership.ts';
import type {MembershipLog} from './membership-log.ts';
import {memberTimeoutMs} from './nats.ts';
import type {PlacedKeys} from './reports.ts';

/** Bounds of the gateway's member table, its join and restart rates, its flap damping (membership.ts). */
export const membershipLimits: MembershipLimits = {
  timeoutMs: memberTimeoutMs,
  maxMembers: 1024,
  joinsPerSecond: 4,
  joinBurst: 32,
  restartMs: 1000,
  backAfterMs: 5000,
  rememberMs: 60_000,
};

/** A key not sent to any member for this long is forgotten by the gateway's key table (reports.ts PlacedKeys). */
export const keyIdleMs = 2 * 60_000;

/** Where one member's parts go and what this turn holds for it. */
export interface Outgoing {
  readonly subject: string;
  readonly buffer: DispatchBuffer;
}

export interface GatewayTables {
  /** Member index -> its subject and this turn's buffer, while it is a member. */
  readonly outgoing: Map<number, Outgoing>;
  readonly placed: PlacedKeys;
  /** The subject of a member's thread. */
  readonly subjectOf: (host: string, member: Member) => string;
  readonly events: TransportEvents;
  readonly log: MembershipLog;
}

export function gatewayMembershipEvents({outgoing, placed, subjectOf, events, log}: GatewayTables): MembershipEvents {
  const threads = (members: readonly Member[]) => members.map((m) => m.index);
  return {
    joined: (host, members) => {
      for (const m of members) outgoing.set(m.index, {subject: subjectOf(host, m), buffer: new DispatchBuffer()});
      // Its boot as hostBoot: this logger's own `boot` (the gateway's) is on every line already.
      log.line('info', host, 'joined', {hostBoot: members[0]?.boot, threads: threads(members)}, 'actor host joined');
      for (const m of members) events.threadJoined?.(m.index);
    },
    leaving: (host, members) => {
      log.line('info', host, 'leaving', {threads: threads(members)}, 'actor host leaving: no new keys for it');
      for (const m of members) events.threadLeaving?.(m.index);
    },
    back: (host, members) => {
      log.line('info', host, 'back', {threads: threads(members)}, 'actor host heartbeats again: it takes new keys');
      for (const m of members) events.threadJoined?.(m.index);
    },
    gone: (host, members, silentMs, left) => {
      for (const m of members) {
        outgoing.get(m.index)?.buffer.clear();
        outgoing.delete(m.index);
        placed.dropMember(m.index);
      }
      const fields = {threads: threads(members), silentMs};
      if (silentMs === undefined)
        log.line('warn', host, 'restarted', fields, 'actor host restarted: what its previous start held fails');
      // A host that said it was leaving and then stopped is a planned leave: info, not a warning.
      else if (left) log.line('info', host, 'left', fields, 'actor host left');
      else log.line('warn', host, 'gone', fields, 'actor host gone');
      for (const m of members) events.threadFailed(m.index);
    },
  };
}
