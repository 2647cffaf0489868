/**
 * `stepbox run` starts the pipeline a file exports; a file that starts its own pipeline while being
 * imported (`await pipeline.start()` at its top level, as a script does) would run it behind the
 * command's back, and the command would exit in the middle of that run's record writes. While the
 * command line loads a pipeline file, this guard makes every start refuse, before anything is compiled,
 * recorded or run. It is process-wide because the file's Pipeline is this process's own.
 */
import { ValidationError } from "../errors.js";

/** The pipeline file being loaded, while it is. */
let loadingFile: string | undefined;
/** The first start the guard refused during the current load, which the file may have caught and hidden. */
let refused: PipelineStartedWhileLoadingError | undefined;

/** A pipeline was started while the command line was loading the file that defines it. */
export class PipelineStartedWhileLoadingError extends ValidationError {
  readonly file: string;
  readonly pipelineName: string;
  constructor(file: string, pipelineName: string) {
    super(
      `${file} starts a pipeline ("${pipelineName}") while being loaded; stepbox starts the pipeline a file exports, so export it instead: export default pipeline`,
      {
        code: "INVALID_PIPELINE",
        hint: `remove the start() call (and what uses its execution) from the file's top level; to run the file as a script instead, use npx tsx ${file}`,
      },
    );
    this.file = file;
    this.pipelineName = pipelineName;
  }
}

/**
 * Runs `load` (the import of `file`, and any factory it exports) with starts refused, and throws the
 * refusal even when the file caught it: a file that tries to start a pipeline is not one to run.
 */
export async function withStartsRefused<T>(file: string, load: () => Promise<T>): Promise<T> {
  loadingFile = file;
  refused = undefined;
  try {
    const loaded = await load();
    if (refused) throw refused;
    return loaded;
  } finally {
    loadingFile = undefined;
    refused = undefined;
  }
}

/** Called first by every way to start an execution: throws while a pipeline file is being loaded. */
export function refuseStartWhileLoading(pipelineName: string): void {
  if (loadingFile === undefined) return;
  refused ??= new PipelineStartedWhileLoadingError(loadingFile, pipelineName);
  throw refused;
}
