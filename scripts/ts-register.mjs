// Lets node run the TypeScript sources directly (benchmarks, one-off scripts): a relative import of
// `x.js` resolves to `x.ts` when that exists. Use with --experimental-transform-types.
import { existsSync } from 'node:fs'
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      specifier.endsWith('.js') &&
      (specifier.startsWith('.') || specifier.startsWith('/')) &&
      context.parentURL?.startsWith('file:')
    ) {
      const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL)
      if (existsSync(candidate)) return nextResolve(candidate.href, context)
    }
    return nextResolve(specifier, context)
  }
})
