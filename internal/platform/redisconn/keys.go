package redisconn

// Every Redis name restored uses is built here, from the configured prefix,
// so several deployments (or CI runs) can share one Redis without touching
// each other's queues or events.

// Queue is the Asynq queue of this deployment. Asynq's own keys are fixed
// ("asynq:{queue}:…"), so isolation comes from the queue name.
func (c *Conn) Queue() string { return c.Prefix + "-default" }

// Channel is the pub/sub channel of one event topic.
func (c *Conn) Channel(topic string) string { return c.Prefix + ":events:" + topic }

// ExecuteQueue holds restore executions, apart from every other job: a
// restore is never queued behind a burst of captures or checks.
func (c *Conn) ExecuteQueue() string { return c.Prefix + "-execute" }

// LeaderKey is the lock a role held by one process at a time (the
// reconciler) takes; its value names the holder.
func (c *Conn) LeaderKey(role string) string { return c.Prefix + ":leader:" + role }

// PersistedQueryKey names the stored text of an automatic persisted query
// (its SHA-256 hash): shared by every API replica.
func (c *Conn) PersistedQueryKey(hash string) string { return c.Prefix + ":apq:" + hash }
