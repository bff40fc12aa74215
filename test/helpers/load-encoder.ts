/**
 * Setup for every test file: load the private encoder that `openWal` loads on first open, so
 * tests that encode records without opening a log (the writer, the scanner, the ring) can.
 */
import { loadEncoder } from '../../src/encoding.js';

await loadEncoder();
