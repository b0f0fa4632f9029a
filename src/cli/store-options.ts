import { readScopes, type RefContext } from '../core/cache/scope.js'
import { openStore } from '../core/store/open-store.js'
import type { ObjectStore } from '../core/store/object-store.js'
import type { StoreConfig } from '../core/store/store-config.js'
import { resolveStore } from '../config/resolve-store.js'
import { refContextFromEnv } from '../github/runner-context.js'
import { stringValue, type Options, type Values } from './command.js'

/** Options every command that touches a store accepts. Credentials come from the AWS chain (env, profile, role). */
export const storeOptions = {
  store: {
    type: 'string',
    description: 's3://bucket/prefix or a directory (default: $ARTIFACT_ACTION_STORE or ~/.cache/artifact-action/store)'
  },
  endpoint: { type: 'string', description: 'S3 endpoint URL for S3-compatible services' },
  region: { type: 'string', description: 'S3 region (default: $AWS_REGION or us-east-1)' },
  'path-style': { type: 'boolean', description: 'path-style S3 addressing (default with --endpoint)' }
} satisfies Options

export const scopeOptions = {
  ref: { type: 'string', description: 'git ref being built (default: $GITHUB_REF; none means the "local" scope)' },
  'base-ref': { type: 'string', description: 'base branch of a pull request (default: $GITHUB_BASE_REF)' },
  'default-branch': { type: 'string', description: 'default branch to fall back to when restoring' }
} satisfies Options

export function storeConfigFrom(values: Values, flag = 'store'): StoreConfig {
  return resolveStore({
    name: `--${flag}`,
    url: stringValue(values, flag),
    envDefault: true,
    endpoint: stringValue(values, 'endpoint'),
    region: stringValue(values, 'region'),
    pathStyle: values['path-style'] === true ? true : undefined
  }).config
}

export function storeFrom(values: Values, flag = 'store'): ObjectStore {
  return openStore(storeConfigFrom(values, flag))
}

export function refContextFrom(values: Values): RefContext {
  const env = refContextFromEnv()
  return {
    ref: stringValue(values, 'ref') ?? env.ref,
    baseRef: stringValue(values, 'base-ref') ?? env.baseRef,
    defaultBranch: stringValue(values, 'default-branch') ?? env.defaultBranch
  }
}

export function scopesFrom(values: Values): string[] {
  return readScopes(refContextFrom(values))
}
