import { runPipelineAction } from '../action/pipeline-run.js'

await runPipelineAction()
