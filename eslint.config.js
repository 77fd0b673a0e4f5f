// Biome lints and formats everything; ESLint runs only the type-aware promise rules Biome cannot check
// reliably. A relay that lets a promise float can lose an error and with it a fact.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.sst/**', '**/cdk.out/**', '.cache/**', '.factlib/**'] },
  {
    files: ['packages/*/src/**/*.ts', 'test/**/*.ts', 'infra/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
)
