package msgraph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits are request budgets per sliding window for one tenant. Every worker
// process sending to the tenant shares them (they are counted in Redis), so
// restored as a whole stays under Microsoft's throttling limits instead of
// discovering them through 429 storms.
type Limits struct {
	Window time.Duration
	// AppWrites and TenantWrites bound POST, PUT, PATCH and DELETE per app
	// per tenant and per tenant (all apps); AppRequests and TenantRequests
	// bound every request.
	AppWrites, TenantWrites, AppRequests, TenantRequests int
	// Concurrency bounds the requests in flight to one tenant from one
	// process, so a burst of jobs does not open hundreds of connections.
	Concurrency int
}

// IntuneLimits are Microsoft's published Intune Graph limits: writes 100 per
// 20 s per app per tenant and 200 per 20 s per tenant; any request 1,000 per
// 20 s per app per tenant and 2,000 per tenant.
var IntuneLimits = Limits{
	Window: 20 * time.Second, AppWrites: 100, TenantWrites: 200,
	AppRequests: 1000, TenantRequests: 2000, Concurrency: 8,
}

// TenantLimiter paces the requests of one app to one tenant.
type TenantLimiter interface {
	// Wait blocks until a request may be sent, then returns the function
	// that marks it finished.
	Wait(ctx context.Context, write bool) (done func(), err error)
	// Pause holds back every request to the tenant, in every process, for d:
	// a 429's Retry-After applies to all of restored, not to one request.
	Pause(ctx context.Context, d time.Duration) error
}

// RedisLimiter counts requests per tenant in Redis with a sliding log per
// budget: exact at window edges (a fixed window lets twice the limit through
// across its boundary), and the clock is Redis's own, so worker clocks do not
// matter.
type RedisLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	limits Limits

	mu    sync.Mutex
	slots map[string]chan struct{} // per tenant: this process's in-flight requests
}

// NewRedisLimiter returns a limiter over rdb whose keys start with prefix.
func NewRedisLimiter(rdb redis.UniversalClient, prefix string, limits Limits) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, prefix: prefix, limits: limits, slots: map[string]chan struct{}{}}
}

// For returns the limiter of app (client id) in tenant.
func (l *RedisLimiter) For(tenant, app string) TenantLimiter {
	// One hash tag per tenant keeps a tenant's keys in one Redis Cluster slot,
	// which a script touching several of them requires.
	base := fmt.Sprintf("%s:graphlimit:{%s}", l.prefix, tenant)
	return &tenantLimiter{l: l, tenant: tenant, keys: []string{
		base + ":app:" + app + ":w", base + ":w", base + ":app:" + app + ":all", base + ":all", base + ":pause",
	}}
}

type tenantLimiter struct {
	l      *RedisLimiter
	tenant string
	keys   []string
}

// acquireScript admits one request if every budget it counts against has
// room and the tenant is not paused, and returns 0; otherwise it admits
// nothing and returns how many microseconds to wait before trying again.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local pause = tonumber(redis.call('GET', KEYS[5]) or '0')
if pause > now then return pause - now end
local first = 3
if ARGV[6] == '1' then first = 1 end
local wait = 0
for i = first, 4 do
  local limit = tonumber(ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[i])
  if n >= limit then
    -- the entry whose expiry brings the count under the limit
    local e = redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')
    local w = tonumber(e[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = first, 4 do
  redis.call('ZADD', KEYS[i], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000) + 1000)
end
return 0
`)

// releaseScript moves a finished request's entries to the time it finished.
// The budgets then count a request until its end, not its start: Graph
// counts it when it arrives, which is somewhere in between, so a slot freed
// by the window never lets a request in that Graph would still count.
var releaseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local first = 3
if ARGV[2] == '1' then first = 1 end
for i = first, 4 do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[1])
end
return 0
`)

// pauseScript extends the tenant's pause to now + ARGV[1] microseconds
// (never shortens it).
var pauseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local till = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > cur then
  redis.call('SET', KEYS[1], till, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
`)

func (t *tenantLimiter) Wait(ctx context.Context, write bool) (func(), error) {
	slot, err := t.l.slot(ctx, t.tenant)
	if err != nil {
		return nil, err
	}
	lim := t.l.limits
	w := "0"
	if write {
		w = "1"
	}
	member := randomID()
	for {
		us, err := acquireScript.Run(ctx, t.l.rdb, t.keys,
			lim.Window.Microseconds(), lim.AppWrites, lim.TenantWrites, lim.AppRequests, lim.TenantRequests, w, member).Int64()
		if err != nil {
			slot()
			return nil, fmt.Errorf("msgraph: rate limiter: %w", err)
		}
		if us == 0 {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				// Best effort: if it fails, the entry keeps its start time.
				_ = releaseScript.Run(ctx, t.l.rdb, t.keys[:4], member, w).Err()
				slot()
			}, nil
		}
		// A little spread, so waiting workers do not all retry at one instant.
		d := time.Duration(us)*time.Microsecond + time.Duration(mrand.Int64N(int64(5*time.Millisecond)))
		select {
		case <-ctx.Done():
			slot()
			return nil, ctx.Err()
		case <-time.After(d):
		}
	}
}

func (t *tenantLimiter) Pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return pauseScript.Run(ctx, t.l.rdb, t.keys[4:5], d.Microseconds()).Err()
}

// slot takes one of this process's in-flight slots of tenant and returns its
// release.
func (l *RedisLimiter) slot(ctx context.Context, tenant string) (func(), error) {
	if l.limits.Concurrency <= 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	ch := l.slots[tenant]
	if ch == nil {
		ch = make(chan struct{}, l.limits.Concurrency)
		l.slots[tenant] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
