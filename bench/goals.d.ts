/** Types of bench/goals.js (plain JavaScript, run by node as the other bench files are). */
export interface Goal {
  suite: string;
  case: string;
  peerName: string;
  /** The least ratio (Teller/peer, above 1 means Teller is better) the goal asks for. */
  goal: number;
  /** The goal in words. */
  says: string;
}
export const GOALS: readonly Goal[];
export function goalOf(row: { suite: string; case: string; peerName: string }): Goal | undefined;
export function keyOf(row: { suite: string; case: string; peerName: string }): string;
