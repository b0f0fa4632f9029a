import { SigstoreInputs } from '../core/signing/sigstore-instance.js'

/** The names action.yml files declare: inputs, outputs, and the state the root action keeps for its post step. */

/** The store inputs every sub-action takes. */
export const StoreInputs = {
  Store: 'store',
  Endpoint: 'endpoint',
  Region: 'region',
  PathStyle: 'path-style',
  AccessKeyId: 'aws-access-key-id',
  SecretAccessKey: 'aws-secret-access-key',
  SessionToken: 'aws-session-token'
} as const

/** The cache actions' inputs: the root action, restore/ and save/. */
export const Inputs = {
  Path: 'path',
  Key: 'key',
  RestoreKeys: 'restore-keys',
  LookupOnly: 'lookup-only',
  FailOnCacheMiss: 'fail-on-cache-miss',
  UploadChunkSize: 'upload-chunk-size',
  Update: 'update',
  MaxSize: 'max-size',
  ExactMirror: 'exact-mirror',
  EnableCrossOsArchive: 'enableCrossOsArchive',
  SaveAlways: 'save-always',
  ...StoreInputs
} as const

/** Inputs that sign cache entries (save) and choose which entries a restore accepts (cache actions and run/). */
export const TrustInputs = {
  Signing: 'signing',
  SigningKey: 'signing-key',
  RestorePolicy: 'restore-policy',
  RestorePublicKey: 'restore-public-key',
  RestoreIdentity: 'restore-identity',
  RestoreIdentityRegexp: 'restore-identity-regexp'
} as const

export const TRUST_INPUTS = [...Object.values(TrustInputs), ...Object.values(SigstoreInputs)]

export const Outputs = {
  CacheHit: 'cache-hit',
  PrimaryKey: 'cache-primary-key',
  MatchedKey: 'cache-matched-key',
  BytesUploaded: 'bytes-uploaded',
  BytesDownloaded: 'bytes-downloaded',
  BytesDeduplicated: 'bytes-deduplicated',
  TreeDigest: 'tree-digest'
} as const

/** What the root action's main step leaves for its post step. */
export const State = {
  PrimaryKey: 'primary-key',
  MatchedKey: 'matched-key',
  MatchedTree: 'matched-tree'
} as const

export const RunInputs = {
  Pipeline: 'pipeline',
  PipelineYaml: 'pipeline-yaml',
  RestoreFinalTree: 'restore-final-tree'
} as const

export const RunOutputs = {
  Plan: 'plan',
  PlanFile: 'plan-file',
  Status: 'status',
  FinalKey: 'final-key'
} as const

/** The inputs that name a release and its store, in release/ and verify/ alike. */
const ReleaseNameInputs = {
  Project: 'project',
  Version: 'version',
  ReleaseStore: 'release-store'
} as const

export const ReleaseInputs = {
  ...ReleaseNameInputs,
  Packages: 'packages',
  PlanFile: 'plan-file',
  Signing: 'signing',
  SigningKey: 'signing-key',
  GitHubRelease: 'github-release',
  GitHubToken: 'github-token',
  RetentionDays: 'retention-days',
  KitTrustedRoot: 'kit-trusted-root'
} as const

export const ReleaseOutputs = {
  Version: 'version',
  ReleaseUrl: 'release-url',
  Status: 'status',
  ProvenanceSha256: 'provenance-sha256',
  GitHubReleaseUrl: 'github-release-url'
} as const

/** The Sigstore instance inputs of keyless signing (verify takes trusted-root instead of the service URLs). */
export const SigstoreSigningInputs = [
  SigstoreInputs.Sigstore,
  SigstoreInputs.FulcioURL,
  SigstoreInputs.RekorURL,
  SigstoreInputs.TimestampURL
] as const
export const SigstoreVerifyInputs = [SigstoreInputs.Sigstore, SigstoreInputs.TrustedRoot] as const

export const VerifyInputs = {
  ...ReleaseNameInputs,
  PublicKey: 'public-key',
  RequireCacheFrom: 'require-cache-from'
} as const

export const VerifyOutputs = {
  Verified: 'verified'
} as const

export const PruneInputs = {
  MaxAge: 'max-age',
  MaxSize: 'max-size',
  MaxEntriesPerScope: 'max-entries-per-scope',
  DeleteScopes: 'delete-scopes',
  GracePeriod: 'grace-period',
  KeepVersions: 'keep-versions',
  DefaultBranch: 'default-branch',
  ProtectDefaultBranch: 'protect-default-branch',
  EvictOrder: 'evict-order',
  DryRun: 'dry-run'
} as const

export const PruneOutputs = {
  EntriesRemoved: 'entries-removed',
  EntriesKept: 'entries-kept',
  BytesFreed: 'bytes-freed'
} as const

/** Every input each action accepts (verify's are in inputs/verify.ts); any other INPUT_* fails the step. */
export const KnownInputs = {
  cache: [...Object.values(Inputs), ...TRUST_INPUTS],
  run: [...Object.values(RunInputs), ...Object.values(StoreInputs), ...TRUST_INPUTS],
  release: [...Object.values(ReleaseInputs), ...SigstoreSigningInputs, ...Object.values(StoreInputs)],
  prune: [...Object.values(PruneInputs), ...Object.values(StoreInputs)]
} as const
