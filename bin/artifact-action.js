#!/usr/bin/env node
// The CLI, from the bundle that `npm run build` writes (dist/cli/index.js).
import '../dist/cli/index.js'
