package restore

import "sync"

// pool runs tasks at most n at a time, for the executor's concurrent items
// (see execution.writeTier). A slot is taken first (Acquire), so the caller
// decides whether to start a task when one can actually start, not before
// waiting for it. Once a task has failed no slot is given any more, and the
// tasks already running finish: an item in flight is never abandoned
// half-recorded because another one failed.
type pool struct {
	slots chan struct{}
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error // the first task's error
}

func newPool(n int) *pool {
	return &pool{slots: make(chan struct{}, max(n, 1))}
}

// Acquire waits for a free slot. It returns false, holding nothing, when a
// task has failed.
func (p *pool) Acquire() bool {
	p.slots <- struct{}{}
	if p.failed() {
		<-p.slots
		return false
	}
	return true
}

// Release gives back a slot Acquire took without starting a task.
func (p *pool) Release() { <-p.slots }

// Go runs task in the slot Acquire took, and frees it when task returns.
func (p *pool) Go(task func() error) {
	p.wg.Add(1)
	go func() {
		defer func() { <-p.slots; p.wg.Done() }()
		if err := task(); err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.mu.Unlock()
		}
	}()
}

func (p *pool) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err != nil
}

// Wait waits for every started task and returns the first error.
func (p *pool) Wait() error {
	p.wg.Wait()
	return p.err
}
