/**
 * `teller/testing`: the store contract suite, for a store of your own. Written for Vitest (an optional peer
 * dependency): `runStoreContract(name, makeStore, { abilities })` in a test file registers every test of the
 * contract documented on `SessionStore`, run against your real backend.
 * @module
 */
export type {
  LegacyEntries,
  MakeStore,
  StoreAbilities,
  StoreContext,
  StoreContractOptions,
  StoreHarness,
} from './store-contract.js';
export { fullRecord, minimalRecord, runStoreContract } from './store-contract.js';
