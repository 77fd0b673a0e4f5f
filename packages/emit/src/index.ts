export {
  createEmitter,
  type Emitter,
  type EmitterOptions,
  type PreparedEmit,
  type Queryable,
} from './emitter.js'
export { decodeEnvelope, type Envelope, type EnvelopeHeader, encodeEnvelope } from './envelope.js'
export { FactlibError, ValidationError } from './errors.js'
export type { Fact, FactInput, TraceContext } from './fact.js'
