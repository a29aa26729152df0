/** The store contract suite the package publishes as `teller/testing`: the repository's stores run that one. */
export * from '../../src/testing/index.js';
