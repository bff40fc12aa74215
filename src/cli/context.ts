/** What a command's action gets: the streams, and where it leaves its exit code and its name for errors. */
import { EXIT } from './errors.js';
import { type CliIo, Output } from './output.js';

export class Context {
  readonly out: Output;
  readonly err: Output;
  /** The exit code the command settled on. */
  exitCode: number = EXIT.OK;
  /** What an error line names: the command and its directory ("verify /data/wal"). */
  what = 'ringwal';

  constructor(readonly io: CliIo) {
    this.out = Output.for(io.stdout);
    this.err = Output.for(io.stderr);
  }
}
