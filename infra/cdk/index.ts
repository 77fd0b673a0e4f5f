export { addConsumerEndpoints, type FactlibConsumer, FactlibRelay, type FactlibRelayProps } from './relay.js'
