// One reader draining one slot's backlog, measured between two marks in the WAL (pg_recvlogical, the bare
// decode, the relay with Kafka or with a no-op sink), and a Kafka client alone producing the same records.
import { formatLsn } from '@factlib/relay'
import { spawnChild, spawnScript } from './child.js'
import { positionReader } from './db.js'
import { type CpuUsage, CpuWindow, cpuSeconds, memory } from './proc.js'
import { startStreamingRelay } from './relay-process.js'
import { sleep } from './services.js'

export const PG_RECVLOGICAL = process.env.FACTLIB_BENCH_PG_RECVLOGICAL || '/usr/bin/pg_recvlogical'

/**
 * `warm` warm-up facts then `facts` measured ones, committed before any reader starts. A reader's position
 * passes `warmMark` when it finished the warm-up and `endMark` when it finished the last fact.
 */
export interface Backlog {
  url: string
  publication: string
  facts: number
  warm: number
  warmMark: bigint
  endMark: bigint
  kafkaPid: number
}

export interface DrainRun {
  arm: string
  rep: number
  /** The drain rate: every fact of the backlog over the time from the start of streaming to the last one. */
  rate: number
  /** The measured facts only, from the moment the reader's position passed the warm-up. */
  steadyRate: number
  /**
   * CPU µs per fact: the reader (user + system, all threads) and its walsender over the whole session
   * (a reader reads ahead of what it confirms), the broker over the measured part.
   */
  cpuPerFact: { reader: number; walsender: number; kafka: number }
  /** Cores used during the measured part. */
  cpu: CpuUsage
  /** The reader's peak resident memory (`VmHWM`). */
  peakRss: number
  timing: { warmAt: number; endAt: number; exitAt: number }
}

/** pg_recvlogical (the ceiling), bench/bare-decode.ts, or the relay with the Kafka sink or a no-op one. */
export type Reader = 'pg_recvlogical' | 'bare-decode' | 'relay' | 'noop-relay'

/** Start a reader; resolves once it streams, with how to follow it and how to end it. */
async function start(
  reader: Reader,
  backlog: Backlog,
  slot: string,
  env: Record<string, string>,
  nodeFlags: string[],
) {
  const end = formatLsn(backlog.endMark)
  if (reader === 'relay' || reader === 'noop-relay') {
    const relayEnv = {
      DATABASE_URL: backlog.url,
      FACTLIB_SLOT: slot,
      FACTLIB_PUBLICATION: backlog.publication,
    }
    const relay = await startStreamingRelay(
      { ...relayEnv, FACTLIB_CREATE_SLOT: 'false', ...env },
      { nodeFlags, noop: reader === 'noop-relay' },
    )
    const finish = async () => {
      if (relay.child.exitCode !== null)
        throw new Error(`the relay exited: ${JSON.stringify(relay.logs.slice(-5))}`)
      await relay.stop()
    }
    return { pid: relay.pid, exited: relay.exited, position: 'confirmed' as const, finish }
  }
  const { hostname, port, username, password, pathname } = new URL(backlog.url)
  const connection = `host=${hostname} port=${port} user=${username} password=${password} dbname=${pathname.slice(1)}`
  const options = ['proto_version=1', `publication_names=${backlog.publication}`, 'messages=true']
  const child =
    reader === 'pg_recvlogical'
      ? spawnChild(PG_RECVLOGICAL, [
          ...['-d', connection, `--slot=${slot}`, '--start', '--plugin=pgoutput', '-f', '/dev/null'],
          ...options.flatMap((option) => ['-o', option]),
          ...[`--endpos=${end}`, '--no-loop'],
        ])
      : spawnScript('bare-decode.ts', [backlog.url, slot, backlog.publication, end])
  // pg_recvlogical says nothing when it streams: it is timed from its start.
  if (reader === 'bare-decode') await child.line((line) => line === 'streaming', 60_000)
  const finish = async () => {
    const code = await child.exited
    if (code !== 0) throw new Error(`${reader} exited with ${code}: ${child.stderr()}`)
  }
  return {
    pid: child.pid,
    exited: child.exited,
    position: (reader === 'bare-decode' ? 'confirmed' : 'sent') as 'confirmed' | 'sent',
    finish,
  }
}

export async function drain(
  arm: string,
  rep: number,
  backlog: Backlog,
  slot: string,
  options: { reader?: Reader; env?: Record<string, string>; nodeFlags?: string[] } = {},
): Promise<DrainRun> {
  const positions = await positionReader(backlog.url)
  try {
    const startAt = performance.now()
    const reader = await start(
      options.reader ?? (arm as Reader),
      backlog,
      slot,
      options.env ?? {},
      options.nodeFlags ?? [],
    )
    const from = options.reader === 'pg_recvlogical' || arm === 'pg_recvlogical' ? startAt : performance.now()
    const startCpu = from === startAt ? 0 : cpuSeconds(reader.pid)
    let ended = false
    void reader.exited.then(() => {
      ended = true
    })
    let walsender = 0
    for (let attempt = 0; attempt < 2000 && !walsender && !ended; attempt++) {
      walsender = await positions.walsenderPid(slot)
      if (!walsender) await sleep(5)
    }
    const tracked = { walsender, reader: reader.pid, kafka: backlog.kafkaPid }
    let [window, warmAt, endAt, peakRss] = [undefined as CpuWindow | undefined, Number.NaN, Number.NaN, 0]
    for (const deadline = Date.now() + 600_000; Number.isNaN(endAt); await sleep(5)) {
      const position = (await positions[reader.position](slot).catch(() => undefined)) ?? 0n
      peakRss = Math.max(peakRss, memory(reader.pid).peak)
      if (Number.isNaN(warmAt) && position > backlog.warmMark) {
        warmAt = performance.now()
        window = new CpuWindow(tracked)
      }
      // A reader that ended has passed every mark (pg_recvlogical stops at --endpos before a poll sees it).
      if ((!Number.isNaN(warmAt) && position > backlog.endMark) || ended) endAt = performance.now()
      else window?.sample()
      if (Date.now() > deadline) throw new Error(`${arm} did not finish its backlog within 10 minutes`)
    }
    if (Number.isNaN(warmAt)) warmAt = endAt
    window ??= new CpuWindow(tracked)
    const [cpu, totals] = [window.stop(), window.totals()]
    await reader.finish()
    const all = backlog.warm + backlog.facts
    const perFact = (seconds: number | undefined, facts = all) => ((seconds ?? Number.NaN) / facts) * 1e6
    return {
      arm,
      rep,
      rate: all / ((endAt - from) / 1000),
      steadyRate: backlog.facts / ((endAt - warmAt) / 1000),
      cpuPerFact: {
        reader: perFact((totals.reader ?? Number.NaN) - startCpu),
        walsender: perFact(totals.walsender),
        kafka: perFact((cpu.processes.kafka ?? Number.NaN) * cpu.seconds, backlog.facts),
      },
      cpu,
      peakRss,
      timing: { warmAt, endAt, exitAt: performance.now() },
    }
  } finally {
    await positions.close()
  }
}

/** bench/producer.ts: a Kafka client alone, on the relay's records; `unavailable` says why it could not run. */
export async function produce(
  client: string,
  rep: number,
  brokers: string[],
  topic: string,
  { facts, warm, bytes }: { facts: number; warm: number; bytes: number },
  kafkaPid: number,
): Promise<DrainRun | { unavailable: string }> {
  const child = spawnScript('producer.ts', [
    client,
    brokers.join(','),
    topic,
    `${facts}`,
    `${warm}`,
    `${bytes}`,
  ])
  const first = await child.line((line) => line === 'warm' || line.startsWith('{'))
  if (first !== 'warm') return JSON.parse(first) as { unavailable: string }
  const window = new CpuWindow({ kafka: kafkaPid })
  const sampler = setInterval(() => window.sample(), 20)
  const line = await child.line((text) => text.startsWith('{'))
  const result = JSON.parse(line) as Record<'seconds' | 'allSeconds' | 'cpuSeconds' | 'peakRss', number>
  clearInterval(sampler)
  const cpu = window.stop()
  await child.exited
  const reader = (result.cpuSeconds / (facts + warm)) * 1e6
  const kafka = (((cpu.processes.kafka ?? Number.NaN) * cpu.seconds) / facts) * 1e6
  return {
    arm: client,
    rep,
    rate: (facts + warm) / result.allSeconds,
    steadyRate: facts / result.seconds,
    cpuPerFact: { reader, walsender: Number.NaN, kafka },
    cpu: { ...cpu, processes: { ...cpu.processes, reader: result.cpuSeconds / result.allSeconds } },
    peakRss: result.peakRss,
    timing: { warmAt: 0, endAt: 0, exitAt: 0 },
  }
}
