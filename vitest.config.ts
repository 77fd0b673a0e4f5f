import { defineConfig } from 'vitest/config'

// The harness (one PostgreSQL, one Kafka, Neon's local bridges) starts once, from the root config.
// Projects must not `extend` the root: an extending project would run the global setup a second time.
const project = (name: string, include: string[]) => ({
  test: { name, include, testTimeout: 60_000, hookTimeout: 120_000 },
})

export default defineConfig({
  test: {
    globalSetup: ['./test/harness/global-setup.ts'],
    projects: [
      project('harness', ['test/**/*.test.ts']),
      project('emit', ['packages/emit/test/**/*.test.ts']),
      project('consume', ['packages/consume/test/**/*.test.ts']),
      project('relay', ['packages/relay/test/**/*.test.ts']),
      project('dev', ['packages/dev/test/**/*.test.ts']),
      project('infra', ['infra/test/**/*.test.ts']),
      project('examples', ['examples/**/*.test.ts']),
    ],
  },
})
