// Sticky percentages: each user falls in one of 10,000 buckets per flag, from a hash of the flag and
// the user. A rollout at p % admits the buckets below p × 100, so raising p only adds users (someone
// in at 5 % is still in at 20 %), lowering it only removes them, and because the flag's name is part
// of the hash, the users of one flag's 5 % are not the users of another's.
import { createHash } from 'node:crypto';

/** Buckets per flag: a percentage resolves to 0.01 points. */
export const BUCKET_COUNT = 10_000;

/**
 * The user's bucket for `flag`, 0–9,999, the same in every process and release. SHA-256 rather than a
 * faster non-cryptographic hash: its output is uniform for any ids, including sequential ones, and
 * at about a microsecond per call it is far below a request's cost. The flag name cannot contain
 * ":", so no flag/user pair hashes the same text as another.
 */
export function bucketOf(flag: string, userId: string): number {
  const digest = createHash('sha256').update(`${flag}:${userId}`).digest();
  // 2^32 is not a multiple of 10,000; the resulting bias (under 0.0003 %) is far below a bucket.
  return digest.readUInt32BE(0) % BUCKET_COUNT;
}

/** Whether `userId` is among the `percentage` % (0–100, fractions to 0.01) of users `flag` is on for. */
export function isInPercentage(flag: string, userId: string, percentage: number): boolean {
  if (!(percentage > 0)) return false;
  if (percentage >= 100) return true;
  return bucketOf(flag, userId) < Math.round(percentage * (BUCKET_COUNT / 100));
}
