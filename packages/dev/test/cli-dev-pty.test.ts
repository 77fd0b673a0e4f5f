import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { cli, repoRoot, tempDir } from '../../../test/harness/cli.js'
import { uniqueName, waitFor } from '../../../test/harness/index.js'

const exec = promisify(execFile)
const haveTmux = await exec('tmux', ['-V']).then(
  () => true,
  () => false,
)
const STATUS = /^[●○] [\d.]+ facts\/s · (\d+) total · slot lag .+ · sink stdout · \w+/

// tmux gives `factlib dev` a real pseudo-terminal, as a developer's terminal would; `.ci/run` installs it.
describe.skipIf(!haveTmux && process.env.CI !== 'true')('factlib dev in a terminal', () => {
  const socket = uniqueName('factlib')
  const tmux = async (...args: string[]) =>
    (await exec('tmux', ['-L', socket, '-f', '/dev/null', ...args])).stdout
  afterAll(() => tmux('kill-server').catch(() => {}))
  const screen = async () =>
    (await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'dev')).trimEnd().split('\n')
  const statusLines = (lines: string[]) => lines.filter((line) => STATUS.test(line))

  test('redraws one status line in place under the facts, and Ctrl-C stops everything', {
    timeout: 90_000,
  }, async () => {
    const dir = await tempDir()
    // bash reaps dev and prints its exit code (tmux can be slow to notice a pane's process ended); it outlives
    // Ctrl-C because dev handles the signal and exits normally.
    const dev = `env -i PATH="${process.env.PATH}" HOME="${process.env.HOME}" TERM=xterm-256color ${process.execPath} ${cli} dev --demo --dir ${dir}/.factlib`
    const command = `bash -c '${dev}; echo "[dev exited with $?]"'`
    await tmux(
      'new-session',
      '-d',
      '-s',
      'dev',
      '-x',
      '160',
      '-y',
      '40',
      '-c',
      repoRoot,
      command,
      ';',
      'set-option',
      '-w',
      '-t',
      'dev',
      'remain-on-exit',
      'on',
    )

    const totals: number[] = []
    let torn: string[] | undefined
    await waitFor(
      'the status line to show the total growing',
      async () => {
        const lines = await screen()
        const status = statusLines(lines)
        // The whole history, scrollback included, holds one status line: the last one, redrawn in place.
        if (status.length > 1 || (status.length === 1 && !STATUS.test(lines.at(-1) ?? ''))) torn = lines
        if (torn || status.length === 0) return Boolean(torn)
        const total = Number(STATUS.exec(status[0] as string)?.[1])
        if (totals.at(-1) !== total) totals.push(total)
        return totals.filter((seen) => seen > 0).length >= 3
      },
      { timeoutMs: 45_000, intervalMs: 200 },
    )
    expect(torn?.join('\n')).toBeUndefined()
    expect(totals.slice(-3)).toEqual([...totals.slice(-3)].sort((a, b) => a - b))
    const lines = await screen()
    // On a terminal, facts are short readable lines: time, topic, key, type, value.
    expect(
      lines.some((line) =>
        /^\d\d:\d\d:\d\d\.\d{3} {2}demo\.order {2}order-\d+ {2}order\.placed {2}\{"id":"order-\d+","total":/.test(
          line,
        ),
      ),
    ).toBe(true)
    expect(lines.join('\n')).toContain('  DATABASE_URL=postgres://postgres:postgres@127.0.0.1:')

    await tmux('send-keys', '-t', 'dev', 'C-c')
    const exited = await waitFor(
      'dev to exit',
      async () => /\[dev exited with (\d+)\]/.exec((await screen()).join('\n'))?.[1],
    ).catch(async (error: Error) => {
      const [pid = '', server = ''] = (await tmux('display-message', '-p', '-t', 'dev', '#{pane_pid} #{pid}'))
        .trim()
        .split(' ')
      const processes = await exec('ps', ['-eo', 'pid,ppid,stat,wchan:24,etime,args']).then(
        ({ stdout }) => {
          const rows = stdout.split('\n').map((line) => ({ line, ids: line.trim().split(/\s+/).slice(0, 2) }))
          const tree = new Set([pid])
          for (let grew = true; grew; ) {
            grew = false
            for (const { ids } of rows)
              if (ids[1] && tree.has(ids[1]) && ids[0] && !tree.has(ids[0])) grew = Boolean(tree.add(ids[0]))
          }
          return rows.filter(({ ids }) => tree.has(ids[0] ?? '') || ids[0] === 'PID').map(({ line }) => line)
        },
        () => [],
      )
      throw new Error(
        `${error.message}; the terminal shows:\n${(await screen()).slice(-15).join('\n')}\ntmux server ${server}, processes:\n${processes.join('\n')}`,
      )
    })
    const after = await screen()
    expect(exited, after.join('\n')).toBe('0')
    expect(after.join('\n')).toMatch(/\nStopped: \d+ facts relayed this run\./)
    expect(statusLines(after)).toHaveLength(0)
    expect(after.join('\n')).not.toMatch(/"level":"(warn|error)"/)
  })
})
