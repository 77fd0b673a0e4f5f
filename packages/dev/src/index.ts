export { DEMO_SOURCE, DEMO_TABLE, type DemoProducer, startDemoProducer } from './demo-producer.js'
export { devCommand } from './dev-command.js'
export {
  EMBEDDED_PASSWORD,
  EMBEDDED_USER,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  freePort,
  startEmbeddedPostgres,
} from './embedded-postgres.js'
