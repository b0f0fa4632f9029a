import { runSave } from '../action/cache-save.js'

await runSave({ fromState: false })
