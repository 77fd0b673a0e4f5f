// An AWS Lambda function behind an Amazon MSK (or self-managed Kafka) event source: it reads `order.placed`
// facts and keeps a projection, the orders and revenue of each day. The projection adds to its counters, so
// a fact handled twice would count twice: the inbox makes each fact's effect happen once, however often
// Kafka or Lambda deliver it.
import { createInbox, route } from '@factlib/consume'
import { kafkaHandler } from '@factlib/consume/lambda'
import pg from 'pg'

/** The facts this consumer reads: their types and `data`. */
export type OrderFacts = { 'order.placed': { id: string; total: number } }

// One connection per instance: an instance handles one batch at a time, partition after partition.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 })
pool.on('error', (error) => console.warn('idle database connection closed:', error.message))
const inbox = createInbox({ consumer: process.env.FACTLIB_CONSUMER ?? 'order-totals' })

const project = route<OrderFacts, pg.PoolClient>(
  {
    'order.placed': (fact, tx) =>
      tx.query(
        `insert into order_totals (day, orders, revenue) values ($1, 1, $2)
         on conflict (day) do update set orders = order_totals.orders + 1, revenue = order_totals.revenue + excluded.revenue`,
        [fact.time.slice(0, 10), fact.data.total],
      ),
  },
  // Other order facts may come later on the same topic: this projection ignores them.
  { unknown: 'skip' },
)

export const handler = kafkaHandler(
  async (fact) => {
    const client = await pool.connect()
    try {
      await inbox.handle(client, fact, project)
    } finally {
      client.release()
    }
  },
  // The event source mapping sets ReportBatchItemFailures (infra's consumer spec does): only the failed
  // partitions are retried, from their first failed fact.
  { reportBatchItemFailures: true },
)
