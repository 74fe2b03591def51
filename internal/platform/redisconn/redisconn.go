// Package redisconn connects to Redis (or starts an in-process one) and names
// every Redis key, queue and channel restored uses, in one place.
//
// Redis is transport, never truth: the database holds every state, so the
// in-process default (miniredis, which keeps nothing across restarts) loses
// nothing that matters.
package redisconn

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Conn is a Redis connection shared by the job queue and pub/sub.
type Conn struct {
	Client redis.UniversalClient
	Asynq  asynq.RedisConnOpt
	Prefix string
	// URL is the effective Redis URL (the in-process one's loopback address
	// when embedded), so a second process in a test can share it.
	URL      string
	embedded *miniredis.Miniredis
}

// Open connects to rawURL (redis://, rediss://, redis-socket:// or
// redis-sentinel://, as Asynq parses them) or, when rawURL is empty, starts an
// in-process Redis on a loopback port.
func Open(ctx context.Context, rawURL, prefix string) (*Conn, error) {
	c := &Conn{Prefix: prefix}
	if rawURL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return nil, fmt.Errorf("start in-process redis: %w", err)
		}
		// miniredis counts TTLs down only when told to, unlike Redis: a
		// lock held by a process that died (the reconciler's leader lock
		// of a killed worker sharing this Redis) would never expire, and
		// no other process could take its role over.
		m.ClockTTL(true)
		c.embedded = m
		rawURL = "redis://" + m.Addr()
	}
	c.URL = rawURL
	opt, err := asynq.ParseRedisURI(rawURL)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	c.Asynq = opt
	client, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("redis URL: unsupported connection type")
	}
	c.Client = client
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis unreachable: %w", err)
	}
	return c, nil
}

// Embedded reports whether this is the in-process Redis.
func (c *Conn) Embedded() bool { return c.embedded != nil }

// Ping reports whether Redis answers.
func (c *Conn) Ping(ctx context.Context) error { return c.Client.Ping(ctx).Err() }

// Close closes the client and stops the in-process Redis.
func (c *Conn) Close() error {
	var err error
	if c.Client != nil {
		err = c.Client.Close()
	}
	if c.embedded != nil {
		c.embedded.Close()
	}
	return err
}
