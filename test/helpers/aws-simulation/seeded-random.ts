/** A deterministic pseudo-random source (mulberry32): the same seed gives the same run. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `count` lowercase hex digits. */
export function randomHex(random: Random, count: number): string {
  let hex = '';
  for (let index = 0; index < count; index += 1) hex += Math.floor(random() * 16).toString(16);
  return hex;
}
