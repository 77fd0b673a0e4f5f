// One reader draining one slot's backlog, measured between two marks in the WAL (pg_recvlogical, the bare
// decode, the relay with Kafka or with a no-op sink), and a Kafka client alone producing the same records.
import { formatLsn } from '@factlib/relay'
import { RELAY_HEAP_FLAGS } from '@factlib/relay/config'
import type { KafkaBroker } from '../test/harness/kafka.js'
import { spawnChild, spawnScript } from './child.js'
import { type Backlog, PUBLICATION, positionReader, type Size } from './db.js'
import { CpuWindow, cpuSeconds, memory } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { sleep } from './services.js'

export const PG_RECVLOGICAL = process.env.FACTLIB_BENCH_PG_RECVLOGICAL || '/usr/bin/pg_recvlogical'

/** What one drain (or one client producing alone) measured: bench/README.md, "What is reported". */
type Drained = Omit<Awaited<ReturnType<typeof drain>>, 'timing'>
/** A drain as one arm of a benchmark in one of its repeats. */
export type DrainRun = Drained & { arm: string; rep: number }

/** pg_recvlogical (the ceiling), bench/bare-decode.ts, or the relay with the Kafka sink or a no-op one. */
export type Reader = 'pg_recvlogical' | 'bare-decode' | 'relay' | 'noop-relay'
type Options = { env?: Record<string, string>; nodeFlags?: string[] }
type Broker = Pick<KafkaBroker, 'brokers' | 'pid'>

/** Start a reader; resolves once it streams (pg_recvlogical says nothing: at once), with how to end it. */
async function start(reader: Reader, backlog: Backlog, slot: string, options: Options) {
  if (reader === 'relay' || reader === 'noop-relay') {
    const noop = reader === 'noop-relay'
    const relay = await startStreamingRelay(backlog.services, { url: backlog.url, slot, ...options, noop })
    const ended = () => relay.child.exitCode !== null || relay.child.signalCode !== null
    const finish = async () => {
      if (ended()) throw new Error(`the relay exited: ${JSON.stringify(relay.logs.slice(-5))}`)
      await relay.stop()
    }
    return { pid: relay.pid, ended, finish }
  }
  const end = formatLsn(backlog.endMark)
  const child =
    reader === 'pg_recvlogical'
      ? spawnChild(PG_RECVLOGICAL, [
          ...['-d', backlog.url, `--slot=${slot}`, '--start', '--plugin=pgoutput', '-f', '/dev/null'],
          ...['-o', 'proto_version=1', '-o', `publication_names=${PUBLICATION}`, '-o', 'messages=true'],
          ...[`--endpos=${end}`, '--no-loop'],
        ])
      : spawnScript('bare-decode.ts', [backlog.url, slot, PUBLICATION, end])
  if (reader === 'bare-decode') await child.line((line) => line === 'streaming', 60_000)
  const finish = async () => {
    const code = await child.exited
    if (code !== 0) throw new Error(`${reader} exited with ${code}: ${child.stderr()}`)
  }
  return { pid: child.pid, ended: child.ended, finish }
}

export async function drain(backlog: Backlog, slot: string, reader: Reader, options: Options = {}) {
  const positions = await positionReader(backlog.url)
  try {
    const startAt = performance.now()
    const { pid, ended, finish } = await start(reader, backlog, slot, options)
    // pg_recvlogical is timed from its start, and it only reports what its walsender sent.
    const recvlogical = reader === 'pg_recvlogical'
    const [from, startCpu] = recvlogical ? [startAt, 0] : [performance.now(), cpuSeconds(pid)]
    let walsender = 0
    const tracked = () => new CpuWindow({ walsender, reader: pid, kafka: backlog.services.kafka.pid })
    let [window, warmAt, endAt, peakRss] = [undefined as CpuWindow | undefined, Number.NaN, Number.NaN, 0]
    for (const deadline = Date.now() + 600_000; Number.isNaN(endAt); await sleep(5)) {
      const now = await positions.read(slot).catch(() => undefined)
      walsender ||= now?.walsender ?? 0
      const position = (recvlogical ? now?.sent : now?.confirmed) ?? 0n
      peakRss = Math.max(peakRss, memory(pid).peak)
      if (Number.isNaN(warmAt) && position > backlog.warmMark) {
        warmAt = performance.now()
        window = tracked()
      }
      // A reader that ended has passed every mark (pg_recvlogical stops at --endpos before a poll sees it).
      if ((!Number.isNaN(warmAt) && position > backlog.endMark) || ended()) endAt = performance.now()
      else window?.sample()
      if (Date.now() > deadline) throw new Error(`${reader} did not finish its backlog within 10 minutes`)
    }
    if (Number.isNaN(warmAt)) warmAt = endAt
    window ??= tracked()
    const [cpu, totals] = [window.stop(), window.totals()]
    await finish()
    const all = backlog.warm + backlog.facts
    const perFact = (seconds = Number.NaN, facts = all) => (seconds / facts) * 1e6
    const [rate, steadyRate] = [all / ((endAt - from) / 1000), backlog.facts / ((endAt - warmAt) / 1000)]
    const cpuPerFact = {
      reader: perFact((totals.reader ?? Number.NaN) - startCpu),
      walsender: perFact(totals.walsender),
      kafka: perFact((cpu.processes.kafka ?? Number.NaN) * cpu.seconds, backlog.facts),
    }
    const timing = { warmAt, endAt, exitAt: performance.now() }
    return { rate, steadyRate, cpuPerFact, cpu, peakRss, timing }
  } finally {
    await positions.close()
  }
}

/** bench/producer.ts: a Kafka client alone on the relay's records, or why it could not run. */
export async function produce(client: string, broker: Broker, topic: string, { facts, warm, bytes }: Size) {
  const sizes = [facts, warm, bytes].map(String)
  const args = [client, broker.brokers.join(','), topic, ...sizes]
  const child = spawnScript('producer.ts', args, [...RELAY_HEAP_FLAGS, '--expose-gc'])
  const first = await child.line((line) => line === 'warm' || line.startsWith('{'))
  if (first !== 'warm') return JSON.parse(first) as { unavailable: string }
  const window = new CpuWindow({ kafka: broker.pid }, 20)
  const line = await child.line((text) => text.startsWith('{'))
  const result = JSON.parse(line) as Record<'seconds' | 'allSeconds' | 'cpuSeconds' | 'peakRss', number>
  const cpu = window.stop()
  await child.exited
  const reader = (result.cpuSeconds / (facts + warm)) * 1e6
  const kafka = (((cpu.processes.kafka ?? Number.NaN) * cpu.seconds) / facts) * 1e6
  const processes = { ...cpu.processes, reader: result.cpuSeconds / result.allSeconds }
  const [rate, steadyRate] = [(facts + warm) / result.allSeconds, facts / result.seconds]
  const cpuPerFact = { reader, walsender: Number.NaN, kafka }
  return { rate, steadyRate, cpuPerFact, cpu: { ...cpu, processes }, peakRss: result.peakRss }
}
