/** What inputs see of the Pipeline scripts (InputContext.pipelines). */
import type { Script } from './script.js';

export interface PipelineScripts {
  /**
   * The current script of a category by file name (`nginx.p`), undefined when
   * there is none. Ask again for each batch: a reload replaces scripts.
   */
  get(category: string, name: string): Script | undefined;
  /**
   * Worker threads an input may run scripts in: 0 = its own choice (one per
   * CPU), -1 = none (on the thread that reads), n = at most n. Absent: 0.
   */
  readonly workers?: number;
}
