/** A load (syntax, unknown function, bad pattern) or run-time error of a Pipeline script, with its position. */
export class PipelineError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(`${file}:${line}:${col}: ${reason}`);
  }
}

/** A position in a script: what errors point at. */
export interface Pos {
  line: number;
  col: number;
}
