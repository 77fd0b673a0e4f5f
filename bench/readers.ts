import { formatLsn } from '@factlib/relay'
import { type Child, spawnChild, spawnScript } from './child.js'
import { positionReader } from './db.js'
import { type CpuUsage, CpuWindow, cpuSeconds, memory } from './proc.js'
import { type RelayMetricsSnapshot, startStreamingRelay } from './relay-process.js'

/** The readers of one backlog: the two that make the ceiling, the relay, and Kafka on its own. */
export type ReaderName = 'pg_recvlogical' | 'pg-logical-replication' | 'relay' | 'kafkajs'

export const PG_RECVLOGICAL = process.env.FACTLIB_BENCH_PG_RECVLOGICAL || '/usr/bin/pg_recvlogical'

/**
 * One reader draining one backlog. The drain rate is the ceiling's definition: every fact of the backlog
 * (warm-up included) over the time from the reader's start of streaming until it has seen (relay:
 * confirmed) the last commit. The steady rate leaves the warm-up facts out: from the moment the reader
 * passed them; it can flatter a reader that read ahead of what it confirmed (the relay holds up to
 * FACTLIB_MAX_INFLIGHT_BYTES), which the drain rate cannot.
 */
export interface DrainRun {
  reader: ReaderName
  /** Facts after the warm-up. */
  facts: number
  warm: number
  drainSeconds: number
  drainFactsPerSecond: number
  seconds: number
  factsPerSecond: number
  /** In cores, over the measured part: `walsender`, `reader`, `kafka`. */
  cpu: CpuUsage
  /**
   * CPU microseconds per fact. The walsender and the reader over the whole session (a reader reads ahead
   * of what it confirms, so its work does not all fall inside the measured part), startup excluded; Kafka
   * over the measured part.
   */
  cpuPerFact: Record<string, number>
  /** The reader's resident memory: peak over its life, and at the end of the measured part (relay only). */
  rssPeakBytes?: number
  rssEndBytes?: number
  relay?: { metrics: RelayMetricsSnapshot }
  /** `performance.now()` when the measured part began and ended, and when the reader's process exited. */
  timing?: { warmAt: number; endAt: number; exitAt: number }
}

/**
 * A backlog in one database: `warm` warm-up facts, then `facts` measured ones. A reader's position passes
 * `warmMark` when it finished the warm-up and `endMark` when it finished the last measured fact.
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

/**
 * Polls a position and records when it passes each mark; the CPU window runs between the two marks. If
 * the reader ends before the poll saw a mark, its exit time stands in (a reader that ends has passed them).
 */
async function measureBetweenMarks(
  backlog: Backlog,
  position: () => Promise<bigint | undefined>,
  tracked: Record<string, number>,
  ended: () => boolean,
  startAt: number,
  readerStartCpu = 0,
): Promise<Measured> {
  let window: CpuWindow | undefined
  let warmAt: number | undefined
  let endAt: number | undefined
  let endedEarly = false
  const deadline = Date.now() + 600_000
  while (endAt === undefined) {
    const current = await position().catch(() => undefined)
    const now = performance.now()
    if (warmAt === undefined && current !== undefined && current > backlog.warmMark) {
      warmAt = now
      window = new CpuWindow(tracked)
    }
    if (warmAt !== undefined && current !== undefined && current > backlog.endMark) endAt = now
    else if (ended()) {
      endedEarly = true
      warmAt ??= now
      endAt = now
      window ??= new CpuWindow(tracked)
    } else {
      window?.sample()
      if (Date.now() > deadline) throw new Error('a reader did not finish its backlog within 10 minutes')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  const cpu = (window as CpuWindow).stop()
  const seconds = (endAt - (warmAt as number)) / 1000
  const totals = (window as CpuWindow).totals()
  const all = backlog.warm + backlog.facts
  const cpuPerFact = {
    walsender: ((totals.walsender ?? Number.NaN) / all) * 1e6,
    reader: (((totals.reader ?? Number.NaN) - readerStartCpu) / all) * 1e6,
    kafka: (((cpu.processes.kafka ?? Number.NaN) * seconds) / backlog.facts) * 1e6,
  }
  return {
    seconds,
    drainSeconds: (endAt - startAt) / 1000,
    cpu,
    cpuPerFact,
    endedEarly,
    warmAt: warmAt as number,
    endAt,
  }
}

interface Measured {
  seconds: number
  drainSeconds: number
  cpu: CpuUsage
  cpuPerFact: Record<string, number>
  endedEarly: boolean
  warmAt: number
  endAt: number
}

async function walsenderOf(
  reader: Awaited<ReturnType<typeof positionReader>>,
  slot: string,
  child: Child | { exited: Promise<unknown>; pid: number },
): Promise<number> {
  let done = false
  void child.exited.then(() => {
    done = true
  })
  for (let attempt = 0; attempt < 2000 && !done; attempt++) {
    const pid = await reader.walsenderPid(slot)
    if (pid) return pid
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return 0
}

function connectionString(url: string): string {
  const parsed = new URL(url)
  return [
    `host=${parsed.hostname}`,
    `port=${parsed.port}`,
    `user=${decodeURIComponent(parsed.username)}`,
    `password=${decodeURIComponent(parsed.password)}`,
    `dbname=${parsed.pathname.slice(1)}`,
  ].join(' ')
}

/** `pg_recvlogical` to /dev/null until the last commit (`--endpos`); its progress is what its walsender sent. */
export async function drainWithRecvlogical(backlog: Backlog, slot: string): Promise<DrainRun> {
  const positions = await positionReader(backlog.url)
  try {
    const startAt = performance.now()
    const child = spawnChild(PG_RECVLOGICAL, [
      '-d',
      connectionString(backlog.url),
      `--slot=${slot}`,
      '--start',
      '--plugin=pgoutput',
      '-o',
      'proto_version=1',
      '-o',
      `publication_names=${backlog.publication}`,
      '-o',
      'messages=true',
      '-f',
      '/dev/null',
      `--endpos=${formatLsn(backlog.endMark)}`,
      '--no-loop',
    ])
    let exited = false
    void child.exited.then(() => {
      exited = true
    })
    const walsender = await walsenderOf(positions, slot, child)
    const measured = await measureBetweenMarks(
      backlog,
      () => positions.sent(slot),
      { walsender, reader: child.pid, kafka: backlog.kafkaPid },
      () => exited,
      startAt,
    )
    const code = await child.exited
    if (code !== 0) throw new Error(`pg_recvlogical exited with ${code}: ${child.stderr()}`)
    return run('pg_recvlogical', backlog, measured)
  } finally {
    await positions.close()
  }
}

/** `bench/bare-decode.ts`: pg-logical-replication decoding and confirming, nothing else. */
export async function drainWithBareDecode(backlog: Backlog, slot: string): Promise<DrainRun> {
  const positions = await positionReader(backlog.url)
  try {
    const child = spawnScript('bare-decode.ts', [
      backlog.url,
      slot,
      backlog.publication,
      formatLsn(backlog.endMark),
    ])
    let exited = false
    void child.exited.then(() => {
      exited = true
    })
    await child.line((line) => line === 'streaming', 60_000)
    const startAt = performance.now()
    const startCpu = cpuSeconds(child.pid)
    const walsender = await walsenderOf(positions, slot, child)
    const measured = await measureBetweenMarks(
      backlog,
      () => positions.confirmed(slot),
      { walsender, reader: child.pid, kafka: backlog.kafkaPid },
      () => exited,
      startAt,
      startCpu,
    )
    const code = await child.exited
    if (code !== 0) throw new Error(`bare-decode exited with ${code}: ${child.stderr()}`)
    const counted = JSON.parse(child.lines.at(-1) ?? '{}') as { messages?: number }
    if (!counted.messages) throw new Error(`bare-decode counted no messages: ${child.lines.join('\n')}`)
    return run('pg-logical-replication', backlog, measured)
  } finally {
    await positions.close()
  }
}

/** The relay (its own process, Kafka sink); done once it confirmed past the last commit. */
export async function drainWithRelay(
  backlog: Backlog,
  slot: string,
  env: Record<string, string>,
  options: { nodeFlags?: string[] } = {},
): Promise<DrainRun> {
  const positions = await positionReader(backlog.url)
  try {
    const relay = await startStreamingRelay(
      {
        DATABASE_URL: backlog.url,
        FACTLIB_SLOT: slot,
        FACTLIB_PUBLICATION: backlog.publication,
        FACTLIB_CREATE_SLOT: 'false',
        ...env,
      },
      options,
    )
    try {
      let exited = false
      const exit = new Promise((resolve) => relay.child.once('exit', resolve)).then(() => {
        exited = true
      })
      const startAt = performance.now()
      const startCpu = cpuSeconds(relay.pid)
      const walsender = await walsenderOf(positions, slot, { exited: exit, pid: relay.pid })
      const measured = await measureBetweenMarks(
        backlog,
        () => positions.confirmed(slot),
        { walsender, reader: relay.pid, kafka: backlog.kafkaPid },
        () => exited,
        startAt,
        startCpu,
      )
      if (measured.endedEarly)
        throw new Error(`the relay exited while draining: ${JSON.stringify(relay.logs.slice(-5))}`)
      const { rss, peak } = memory(relay.pid)
      const metrics = await relay.metrics()
      await relay.stop()
      return {
        ...run('relay', backlog, measured),
        rssPeakBytes: peak,
        rssEndBytes: rss,
        relay: { metrics },
        timing: { warmAt: measured.warmAt, endAt: measured.endAt, exitAt: performance.now() },
      }
    } finally {
      await relay.stop()
    }
  } finally {
    await positions.close()
  }
}

/** `bench/kafka-producer.ts`: the same records straight to Kafka with the relay's producer settings. */
export async function produceWithKafkajs(
  brokers: string[],
  topic: string,
  facts: number,
  warm: number,
  bytes: number,
  kafkaPid: number,
): Promise<DrainRun> {
  const child = spawnScript('kafka-producer.ts', [
    brokers.join(','),
    topic,
    String(facts),
    String(warm),
    String(bytes),
  ])
  await child.line((line) => line === 'warm')
  const window = new CpuWindow({ reader: child.pid, kafka: kafkaPid })
  const sampler = setInterval(() => window.sample(), 20)
  const result = JSON.parse(await child.line((line) => line.startsWith('{'))) as {
    seconds: number
    allSeconds: number
  }
  clearInterval(sampler)
  const cpu = window.stop()
  await child.exited
  const perFact = (cores: number | undefined) => (((cores ?? Number.NaN) * cpu.seconds) / facts) * 1e6
  return {
    reader: 'kafkajs',
    facts,
    warm,
    drainSeconds: result.allSeconds,
    drainFactsPerSecond: (facts + warm) / result.allSeconds,
    seconds: result.seconds,
    factsPerSecond: facts / result.seconds,
    cpu,
    cpuPerFact: { reader: perFact(cpu.processes.reader), kafka: perFact(cpu.processes.kafka) },
  }
}

function run(reader: ReaderName, backlog: Backlog, measured: Measured): DrainRun {
  const { facts, warm } = backlog
  return {
    reader,
    facts,
    warm,
    drainSeconds: measured.drainSeconds,
    drainFactsPerSecond: (facts + warm) / measured.drainSeconds,
    seconds: measured.seconds,
    factsPerSecond: facts / measured.seconds,
    cpu: measured.cpu,
    cpuPerFact: measured.cpuPerFact,
  }
}
