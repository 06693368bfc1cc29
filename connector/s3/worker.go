package s3

// The background worker: storage jobs and export writes, in every Glossa
// process at once, coordinated through the database.

import (
	"context"
	"sync"
	"time"
)

// Run is the background worker: it claims storage jobs (queued ones, or
// running ones whose process stopped sending heartbeats StaleAfter ago)
// and runs them one at a time, and, alongside, carries out the export
// writes and deletions that are due. It looks for work every PollInterval, and at once after
// Kick. Several processes may run it against one database: each job and
// each write is claimed by one of them. Run returns when ctx ends; a job
// running then is taken over by another process once its heartbeat is
// stale.
func (c *Connector) Run(ctx context.Context) {
	c.setup()
	var wg sync.WaitGroup
	wg.Go(func() { c.loop(ctx, c.jobKick, c.runJobs) })
	wg.Go(func() { c.loop(ctx, c.writeKick, c.runWrites) })
	wg.Wait()
}

// Kick wakes the worker early: a job, an export write or a deletion was
// just queued.
// It never blocks.
func (c *Connector) Kick() {
	c.setup()
	for _, ch := range []chan struct{}{c.jobKick, c.writeKick} {
		select {
		case ch <- struct{}{}:
		default: // already kicked
		}
	}
}

// loop calls work at once, then after each kick or PollInterval of
// quiet, until ctx ends.
func (c *Connector) loop(ctx context.Context, kick <-chan struct{}, work func(context.Context)) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
		work(ctx)
		t.Reset(c.pollInterval())
	}
}

// runJobs runs storage jobs until none is left to claim.
func (c *Connector) runJobs(ctx context.Context) {
	for ctx.Err() == nil {
		now := c.now()
		job, err := c.Store.ClaimStorageJob(ctx, now, now.Add(-StaleAfter))
		if err != nil {
			if ctx.Err() == nil {
				c.logger().Error("s3: claim storage job", "err", err)
			}
			return
		}
		if job == nil {
			return
		}
		c.logger().Info("s3: sync started", "job", job.ID, "storage", job.StorageID, "type", job.Type)
		if err := c.RunSync(ctx, job); err != nil && ctx.Err() == nil {
			c.logger().Error("s3: sync", "job", job.ID, "storage", job.StorageID, "err", err)
		}
	}
}

// runWrites carries out due export writes and deletions until fewer than
// a full claim of each are due.
func (c *Connector) runWrites(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := c.RunExportWrites(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.logger().Error("s3: export writes", "err", err)
			}
			return
		}
		if n < ExportLimit {
			return
		}
	}
}
