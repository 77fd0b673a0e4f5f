export { decode, type KafkaRecord } from './decode.js'
export { FactlibError } from './errors.js'
export type { Fact } from './fact.js'
export {
  createInbox,
  type Inbox,
  type InboxOptions,
  inboxSql,
  migrateInbox,
  type Queryable,
  type Statement,
} from './inbox.js'
export { type Handlers, type RouteOptions, route } from './route.js'
