import { describe, expect, test } from 'vitest'
import { jsonLogger, silentLogger } from '../src/observability/log.js'

describe('jsonLogger', () => {
  test('writes one JSON object per line with time, level, message, child fields and serialized errors', () => {
    const lines: string[] = []
    const logger = jsonLogger({
      stream: { write: (line: string) => lines.push(line) },
      level: 'info',
      now: () => new Date('2025-01-02T03:04:05.678Z'),
      fields: { service: 'relay' },
    }).child({ component: 'kafka-sink' })
    logger.debug('dropped below the level')
    logger.warn('retrying', { attempt: 2, lsn: 10n, value: new Uint8Array(3) })
    const error = Object.assign(new Error('boom'), { code: 'E_BOOM' })
    logger.error('failed', { error })

    expect(lines).toHaveLength(2)
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true)
    expect(JSON.parse(lines[0] as string)).toEqual({
      time: '2025-01-02T03:04:05.678Z',
      level: 'warn',
      msg: 'retrying',
      service: 'relay',
      component: 'kafka-sink',
      attempt: 2,
      lsn: '10',
      value: '<3 bytes>',
    })
    expect(JSON.parse(lines[1] as string).error).toMatchObject({
      name: 'Error',
      message: 'boom',
      code: 'E_BOOM',
    })
  })

  test('silentLogger drops everything, children too', () => {
    expect(() => silentLogger.child({ a: 1 }).error('nothing')).not.toThrow()
  })
})
