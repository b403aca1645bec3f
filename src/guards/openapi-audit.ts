/**
 * The OpenAPI audit lives in src/audit/ (its own folder: it reads strangers' files through a
 * confined resolver, and has its own CLI, reports and benchmark). Re-exported here for the guards
 * that share classifyField() and for existing imports.
 */
export * from '../audit/openapi-audit';
