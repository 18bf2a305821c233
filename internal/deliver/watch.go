package deliver

import (
	"context"
	"time"

	"github.com/obsdata/dataman/internal/stall"
)

// watch runs fn, the file operations on one destination folder, under the
// stall timeout limit: see stall.Do.
func watch[T any](ctx context.Context, d *Deliverer, dir string, limit time.Duration, fn func(ctx context.Context, tick func()) (T, error)) (T, error) {
	return stall.Do(ctx, d.watcher, dir, limit, fn)
}
