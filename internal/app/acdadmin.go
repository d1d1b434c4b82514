package app

import (
	"context"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/dispatch"
	"github.com/ccd-platform/ccd/acd/pgstore"
)

// acdAdmin is the ACD configuration for the admin API: a change of queues
// reaches the running dispatcher at once.
type acdAdmin struct {
	*pgstore.Store
	router *dispatch.Router
}

func (a *acdAdmin) PutQueue(ctx context.Context, q acd.QueueConfig) (bool, error) {
	created, err := a.Store.PutQueue(ctx, q)
	if err == nil {
		err = a.router.Reload(ctx)
	}
	return created, err
}

func (a *acdAdmin) DeleteQueue(ctx context.Context, id acd.QueueID) error {
	err := a.Store.DeleteQueue(ctx, id)
	if err == nil {
		err = a.router.Reload(ctx)
	}
	return err
}
