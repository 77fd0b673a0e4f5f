// `npm run kafka:jars`: resolve the test broker's jars ahead of the tests (CI does this in its install step).
import { ensureKafkaJars, KAFKA_VERSION } from './kafka.js'

const started = Date.now()
const dir = await ensureKafkaJars({ log: (line) => console.log(line) })
console.log(`Apache Kafka ${KAFKA_VERSION} jars ready in ${dir} (${Date.now() - started} ms)`)
