/** Types of bench/callgrind-names.js's pure functions (plain JavaScript, run by node as the other bench files are). */
export interface PerfEntry {
  start: number;
  size: number;
  name: string;
}
export interface Call {
  count: number;
  column: string;
}
export interface AnnotatedFunction extends Call {
  callers: Call[];
  callees: Call[];
}
export interface Annotated {
  total: number;
  functions: AnnotatedFunction[];
}
export type View = 'exclusive' | 'inclusive' | 'callers' | 'callees';
export const UNMAPPED: string;
export function parsePerfMap(text: string): PerfEntry[];
export function lookup(map: readonly PerfEntry[], address: number): string | undefined;
export function nameOf(
  column: string,
  map: readonly PerfEntry[] | undefined,
): { name: string; level: number; jit: boolean };
export function parseAnnotate(text: string): Annotated;
export function tally(
  parsed: Annotated,
  map: readonly PerfEntry[] | undefined,
  view: View,
  target?: string,
): { counts: Map<string, number>; summary: { total: number; gc: number; compile: number; jit: number } };
export function perRequest(
  small: Map<string, number>,
  large: Map<string, number>,
  requests: number,
): Map<string, number>;
