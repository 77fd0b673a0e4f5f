export { FactlibRelay, type FactlibRelayProps } from './relay.js'
