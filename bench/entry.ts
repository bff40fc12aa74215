/** The standard benchmark entry: defined with the `ringwal bench` command, which ships in the package. */
export { standardEntry } from '../src/cli/standard-entry.js';
