// One reader draining one slot's backlog, measured between two marks in the WAL: the readers of the
// throughput and codec benchmarks (pg_recvlogical, the bare decode, the relay with Kafka or with a no-op sink).
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

/** A reader that began streaming its slot. */
interface Reader {
  pid: number
  exited: Promise<unknown>
  /** How far it got: what its walsender sent (pg_recvlogical) or what it confirmed. */
  position: 'sent' | 'confirmed'
  /** When it began, and its CPU then (startup is not a cost per fact). */
  startAt: number
  startCpu: number
  /** Stop it (or wait for it to end by itself) and check it ended well. */
  finish(): Promise<void>
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

export async function drain(
  arm: string,
  rep: number,
  backlog: Backlog,
  slot: string,
  start: () => Promise<Reader>,
) {
  const positions = await positionReader(backlog.url)
  try {
    const reader = await start()
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
    let window: CpuWindow | undefined
    let warmAt: number | undefined
    let endAt: number | undefined
    let peakRss = 0
    const deadline = Date.now() + 600_000
    while (endAt === undefined) {
      const position = (await positions[reader.position](slot).catch(() => undefined)) ?? 0n
      const now = performance.now()
      peakRss = Math.max(peakRss, memory(reader.pid).peak)
      if (warmAt === undefined && position > backlog.warmMark) {
        warmAt = now
        window = new CpuWindow(tracked)
      }
      // A reader that ended has passed every mark (pg_recvlogical stops at --endpos before the poll sees it).
      if ((warmAt !== undefined && position > backlog.endMark) || ended) {
        warmAt ??= now
        endAt = now
      } else {
        window?.sample()
        if (Date.now() > deadline) throw new Error(`${arm} did not finish its backlog within 10 minutes`)
        await sleep(5)
      }
    }
    window ??= new CpuWindow(tracked)
    const measuredFrom = warmAt ?? endAt
    const cpu = window.stop()
    const totals = window.totals()
    await reader.finish()
    const all = backlog.warm + backlog.facts
    return {
      arm,
      rep,
      rate: all / ((endAt - reader.startAt) / 1000),
      steadyRate: backlog.facts / ((endAt - measuredFrom) / 1000),
      cpuPerFact: {
        reader: (((totals.reader ?? Number.NaN) - reader.startCpu) / all) * 1e6,
        walsender: ((totals.walsender ?? Number.NaN) / all) * 1e6,
        kafka: (((cpu.processes.kafka ?? Number.NaN) * cpu.seconds) / backlog.facts) * 1e6,
      },
      cpu,
      peakRss,
      timing: { warmAt: measuredFrom, endAt, exitAt: performance.now() },
    }
  } finally {
    await positions.close()
  }
}

/** `pg_recvlogical` to /dev/null until the last commit (`--endpos`); the ceiling. */
export function recvlogical(backlog: Backlog, slot: string): () => Promise<Reader> {
  return async () => {
    const url = new URL(backlog.url)
    const startAt = performance.now()
    const child = spawnChild(PG_RECVLOGICAL, [
      '-d',
      `host=${url.hostname} port=${url.port} user=${decodeURIComponent(url.username)} password=${decodeURIComponent(url.password)} dbname=${url.pathname.slice(1)}`,
      `--slot=${slot}`,
      '--start',
      '--plugin=pgoutput',
      ...['-o', 'proto_version=1', '-o', `publication_names=${backlog.publication}`, '-o', 'messages=true'],
      ...['-f', '/dev/null', `--endpos=${formatLsn(backlog.endMark)}`, '--no-loop'],
    ])
    const finish = async () => {
      const code = await child.exited
      if (code !== 0) throw new Error(`pg_recvlogical exited with ${code}: ${child.stderr()}`)
    }
    return { pid: child.pid, exited: child.exited, position: 'sent', startAt, startCpu: 0, finish }
  }
}

/** bench/bare-decode.ts: the relay's replication stream decoding and confirming, nothing else. */
export function bareDecode(backlog: Backlog, slot: string): () => Promise<Reader> {
  return async () => {
    const args = [backlog.url, slot, backlog.publication, formatLsn(backlog.endMark)]
    const child = spawnScript('bare-decode.ts', args)
    await child.line((line) => line === 'streaming', 60_000)
    const finish = async () => {
      const code = await child.exited
      if (code !== 0 || !child.lines.at(-1)?.includes('messages'))
        throw new Error(`bare-decode exited with ${code}: ${child.stderr()}`)
    }
    const startAt = performance.now()
    return {
      pid: child.pid,
      exited: child.exited,
      position: 'confirmed',
      startAt,
      startCpu: cpuSeconds(child.pid),
      finish,
    }
  }
}

/** The relay as its own process; done once it confirmed past the last commit. */
export function relay(
  backlog: Backlog,
  slot: string,
  env: Record<string, string>,
  options: Parameters<typeof startStreamingRelay>[1] = {},
): () => Promise<Reader> {
  return async () => {
    const started = await startStreamingRelay(
      {
        DATABASE_URL: backlog.url,
        FACTLIB_SLOT: slot,
        FACTLIB_PUBLICATION: backlog.publication,
        FACTLIB_CREATE_SLOT: 'false',
        ...env,
      },
      options,
    )
    const finish = async () => {
      if (started.child.exitCode !== null)
        throw new Error(`the relay exited while draining: ${JSON.stringify(started.logs.slice(-5))}`)
      await started.stop()
    }
    const startAt = performance.now()
    return {
      pid: started.pid,
      exited: started.exited,
      position: 'confirmed',
      startAt,
      startCpu: cpuSeconds(started.pid),
      finish,
    }
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
    String(facts),
    String(warm),
    String(bytes),
  ])
  const first = await child.line((line) => line === 'warm' || line.startsWith('{'))
  if (first !== 'warm') return JSON.parse(first) as { unavailable: string }
  const window = new CpuWindow({ kafka: kafkaPid })
  const sampler = setInterval(() => window.sample(), 20)
  const result = JSON.parse(await child.line((line) => line.startsWith('{'))) as Record<
    'seconds' | 'allSeconds' | 'cpuSeconds' | 'peakRss',
    number
  >
  clearInterval(sampler)
  const cpu = window.stop()
  await child.exited
  return {
    arm: `${client} alone`,
    rep,
    rate: (facts + warm) / result.allSeconds,
    steadyRate: facts / result.seconds,
    cpuPerFact: {
      reader: (result.cpuSeconds / (facts + warm)) * 1e6,
      walsender: Number.NaN,
      kafka: (((cpu.processes.kafka ?? Number.NaN) * cpu.seconds) / facts) * 1e6,
    },
    cpu: { ...cpu, processes: { ...cpu.processes, reader: result.cpuSeconds / result.allSeconds } },
    peakRss: result.peakRss,
    timing: { warmAt: 0, endAt: 0, exitAt: 0 },
  }
}
