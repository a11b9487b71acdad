// Placement without a central authority: every gateway computes the same thread for a key from
// the same live membership, by rendezvous (highest-random-weight) hashing. Each member's score
// for the key is a hash of (member, key); the highest wins. When a member leaves, only its keys
// move (each to its own next-best member); when one joins, it takes about 1/n of the keys.

/** FNV-1a over the UTF-16 code units, then a murmur3 finaliser for an even spread. */
function score(member: string, key: string): number {
  let h = 0x811c9dc5;
  const text = `${member}\n${key}`;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The member a key belongs to, or undefined when there is none. Ties go to the smaller name. */
export function rendezvous(key: string, members: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const member of members) {
    const s = score(member, key);
    if (s > bestScore || (s === bestScore && best !== undefined && member < best)) {
      best = member;
      bestScore = s;
    }
  }
  return best;
}
