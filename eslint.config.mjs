// ESLint (flat config): typescript-eslint's recommended rules plus the type-checked rules that
// catch security-relevant mistakes (an unhandled promise is an unhandled deny path), and
// eslint-config-prettier last (formatting is Prettier's job: `npm run format`).
// @loopback/eslint-config is not used: its current release requires ESLint 8 (end of life) and
// typescript-eslint 7, which does not support this TypeScript.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'certs/**', 'reports/**', '.tmp/**', 'escape-report/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      // Promises: every one awaited, returned or explicitly voided; none where a callback's
      // return value is ignored (an async listener's rejection would be lost).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', {checksVoidReturn: {arguments: false, attributes: false}}],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'}],
      // TypeScript namespaces are LoopBack's idiom for binding keys (keys.ts).
      '@typescript-eslint/no-namespace': 'off',
      'no-constant-condition': ['error', {checkLoops: false}],
      // A `let` read by a callback before its one assignment cannot be a const.
      'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
      eqeqeq: ['error', 'always', {null: 'ignore'}],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // Logs go through pino (src/logging/logger.ts); user-facing CLI text through process.stdout/stderr.
      'no-console': 'error',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {globals: {process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly'}},
  },
  prettier,
);
