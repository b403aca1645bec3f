/**
 * SARIF 2.1.0 writer shared by the OpenAPI audit and the escape suite (GitHub code scanning,
 * GitLab, DefectDojo ingest it). Pure: data in, a SARIF log object out. A unit test validates the
 * output of both tools against the OASIS SARIF 2.1.0 JSON schema (test/fixtures/schemas).
 */
export type SarifLevel = 'error' | 'warning' | 'note' | 'none';
export type SarifKind = 'fail' | 'pass' | 'notApplicable' | 'review' | 'open' | 'informational';

export interface SarifRule {
  readonly id: string;
  readonly description: string;
  readonly level: SarifLevel;
  /** GitHub's 0.0-10.0 scale (high 8.0, medium 5.0, low 3.0). */
  readonly securitySeverity?: number;
  readonly tags?: readonly string[];
}

export interface SarifResult {
  readonly ruleId: string;
  readonly level: SarifLevel;
  readonly kind?: SarifKind;
  readonly message: string;
  /** Artifact the result is about (a file path relative to the working directory, or a URL). */
  readonly uri: string;
  readonly startLine?: number;
  /** e.g. "POST /containers/{id}/exec". */
  readonly logicalLocation?: string;
  /** Stable identity of the result across runs (baseline / de-duplication). */
  readonly fingerprint: string;
  readonly properties?: Readonly<Record<string, unknown>>;
}

export interface SarifInput {
  readonly toolName: string;
  readonly toolVersion: string;
  readonly informationUri?: string;
  readonly rules: readonly SarifRule[];
  readonly results: readonly SarifResult[];
  readonly executionSuccessful?: boolean;
  readonly startTimeUtc?: string;
  readonly endTimeUtc?: string;
}

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

export function buildSarif(input: SarifInput): Record<string, unknown> {
  const index = new Map(input.rules.map((r, i) => [r.id, i]));
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: input.toolName,
            version: input.toolVersion,
            ...(input.informationUri ? {informationUri: input.informationUri} : {}),
            rules: input.rules.map(r => ({
              id: r.id,
              shortDescription: {text: r.description.length > 120 ? `${r.description.slice(0, 117)}...` : r.description},
              fullDescription: {text: r.description},
              defaultConfiguration: {level: r.level},
              properties: {
                tags: ['security', ...(r.tags ?? [])],
                ...(r.securitySeverity !== undefined ? {'security-severity': r.securitySeverity.toFixed(1)} : {}),
              },
            })),
          },
        },
        invocations: [
          {
            executionSuccessful: input.executionSuccessful ?? true,
            ...(input.startTimeUtc ? {startTimeUtc: input.startTimeUtc} : {}),
            ...(input.endTimeUtc ? {endTimeUtc: input.endTimeUtc} : {}),
          },
        ],
        columnKind: 'utf16CodeUnits',
        results: input.results.map(r => ({
          ruleId: r.ruleId,
          ...(index.has(r.ruleId) ? {ruleIndex: index.get(r.ruleId)} : {}),
          level: r.level,
          kind: r.kind ?? (r.level === 'none' ? 'pass' : 'fail'),
          message: {text: r.message},
          locations: [
            {
              physicalLocation: {
                artifactLocation: {uri: r.uri},
                ...(r.startLine !== undefined ? {region: {startLine: Math.max(1, Math.floor(r.startLine))}} : {}),
              },
              ...(r.logicalLocation ? {logicalLocations: [{fullyQualifiedName: r.logicalLocation, kind: 'function'}]} : {}),
            },
          ],
          fingerprints: {'hardenedMtls/v1': r.fingerprint},
          partialFingerprints: {'hardenedMtls/v1': r.fingerprint},
          ...(r.properties ? {properties: r.properties} : {}),
        })),
      },
    ],
  };
}

/** A file path as a SARIF artifact URI (relative paths stay relative, with forward slashes and escapes). */
export function artifactUri(file: string): string {
  return file.split(/[\\/]/).map(encodeURIComponent).join('/');
}
