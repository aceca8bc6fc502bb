package dynamo

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/serverless-scim/serverless-scim/internal/backoff"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// NewUncountedUserStore is a UserStore whose kind keeps no bucket counters
// (and uses the code Z), to test that the mechanics honour the flag.
func NewUncountedUserStore(db API, tableName string) *UserStore {
	st := NewUserStore(db, tableName)
	st.k = kind{code: "Z", resourceType: "User", nameAttr: "userName", counted: false}
	return st
}

// BulkLoadUsers writes new users the fast way, for benchmarks that need
// many: each user's item and id pointer in the store's own encoding, 25
// items to a BatchWriteItem, on workers connections at once, then the
// bucket counters. It checks nothing (no name claim, no version), so the
// tenant must have no users yet.
func BulkLoadUsers(ctx context.Context, db *dynamodb.Client, table, tenant string, rs []*scim.Resource, workers int) error {
	counts := map[string]int64{}
	var reqs []types.WriteRequest
	for _, r := range rs {
		item, err := userItem(users, tenant, r)
		if err != nil {
			return err
		}
		sk := str(item, AttrSK)
		ptr := key(tenant, users.idKey(r.ID))
		ptr[attrRef] = s(sk)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: ptr}})
		counts[users.bucketOf(sk)]++
	}
	for b, c := range counts {
		item := key(tenant, users.counterKey(b))
		item[attrCount] = n(c)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	batches := make(chan []types.WriteRequest)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if err := batchWrite(ctx, db, table, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for len(reqs) > 0 {
		k := min(25, len(reqs))
		select {
		case batches <- reqs[:k]:
		case err := <-errs:
			close(batches)
			wg.Wait()
			return err
		}
		reqs = reqs[k:]
	}
	close(batches)
	wg.Wait()
	close(errs)
	return <-errs
}

func batchWrite(ctx context.Context, db *dynamodb.Client, table string, batch []types.WriteRequest) error {
	req := map[string][]types.WriteRequest{table: batch}
	for attempt := 0; attempt < 20; attempt++ {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			return err
		}
		if len(out.UnprocessedItems[table]) == 0 {
			return nil
		}
		req = out.UnprocessedItems
		if err := backoff.Wait(ctx, attempt, 10*time.Millisecond, 8); err != nil {
			return err
		}
	}
	return errors.New("dynamo: BatchWriteItem kept items unprocessed")
}
