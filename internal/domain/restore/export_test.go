package restore

import "context"

// Lease exposes the execution lease to the package's external tests.
type Lease = lease

// AcquireLease is acquireLease.
func (s *Service) AcquireLease(ctx context.Context, runID string) (*Lease, error) {
	return s.acquireLease(ctx, runID)
}

// Fence is fence.
func (l *lease) Fence(ctx context.Context) error { return l.fence(ctx) }

// Token is the lease's fencing token.
func (l *lease) Token() int { return l.token }

// Release is release.
func (l *lease) Release(ctx context.Context) { l.release(ctx) }

// LeaseTTL is leaseTTL.
const LeaseTTL = leaseTTL

// CheckColumns and PreviewColumns are the columns checks and preview store, for StoreItems.
var (
	CheckColumns   = checkColumns
	PreviewColumns = previewColumns
)

// StoreItems is storeItems with values given per item id.
func (s *Service) StoreItems(ctx context.Context, cols []itemColumn, rows map[string][]any) error {
	var page []itemWrite
	for id, v := range rows {
		page = append(page, itemWrite{id: id, values: v})
	}
	return storeItems(ctx, s.Client, s.Dialect, s.Clock.Now(), cols, page)
}
