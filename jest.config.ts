import type { Config } from 'jest';
import { compilerOptions } from './tsconfig.base.json';

/** tsconfig paths → jest module names, so tests import libraries exactly as the code does. */
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target}`]),
);

const transform: Config['transform'] = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
      sourceMaps: 'inline',
    },
  ],
};

const common = {
  rootDir: __dirname,
  moduleNameMapper,
  transform,
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/bench', '<rootDir>/tools'],
};

const config: Config = {
  // Integration suites start real PostgreSQL and Kafka servers; two workers fit two cores.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/tools/jest/plain-summary-reporter.js'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['**/*.spec.ts'],
      testPathIgnorePatterns: ['\\.int\\.spec\\.ts$', '\\.e2e\\.spec\\.ts$', '/node_modules/'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['**/*.int.spec.ts', '**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/tools/jest/integration-global-setup.ts',
      globalTeardown: '<rootDir>/tools/jest/integration-global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/tools/jest/integration-timeout.ts'],
    },
  ],
};

export default config;
