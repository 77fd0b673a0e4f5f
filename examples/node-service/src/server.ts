import { readFile } from 'node:fs/promises'
import pg from 'pg'
import { createApp } from './app.js'

const databaseUrl = process.env.DATABASE_URL
if (!databaseUrl) {
  console.error('set DATABASE_URL, e.g. to the one `npm start` (factlib dev) prints at the repository root')
  process.exit(2)
}
// An example's convenience: create the orders table if it is missing (a real service runs migrations).
const client = new pg.Client({ connectionString: databaseUrl })
await client.connect()
await client.query(await readFile(new URL('../../schema.sql', import.meta.url), 'utf8'))
await client.end()

const port = Number(process.env.PORT ?? 3000)
const app = createApp(databaseUrl, process.env.FACTLIB_SOURCE ?? 'orders')
app.server.listen(port, () =>
  console.info(`orders service on http://localhost:${port}: POST /orders {"id","total"}`),
)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close())
