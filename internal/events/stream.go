package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamsAPI is the part of the DynamoDB Streams client that the local
// poller and the redrive of a failed batch use.
type StreamsAPI interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// seqLess orders sequence numbers (decimal strings of up to 40 digits).
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ReadBatch reads the records of one shard from start to end inclusive:
// what Lambda's on-failure record names (StreamBatch). Records older than
// the stream's 24-hour retention are gone: that is an error.
func ReadBatch(ctx context.Context, api StreamsAPI, b StreamBatch) ([]Record, error) {
	it, err := api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(b.StreamARN), ShardId: aws.String(b.ShardID),
		ShardIteratorType: streams.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.StartSequenceNumber),
	})
	if err != nil {
		return nil, fmt.Errorf("events: reading the failed batch from the stream: %w", err)
	}
	var out []Record
	iter := it.ShardIterator
	for range 10000 {
		if iter == nil {
			return out, nil
		}
		page, err := api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, fmt.Errorf("events: reading the failed batch from the stream: %w", err)
		}
		recs, err := FromStreams(page.Records)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if seqLess(b.EndSequenceNumber, r.SequenceNumber) {
				return out, nil
			}
			out = append(out, r)
		}
		if len(recs) == 0 {
			return out, nil
		}
		iter = page.NextShardIterator
	}
	return out, errors.New("events: the failed batch does not end")
}

// Poller reads a table's stream through the DynamoDB Streams API and runs
// its records through a Processor, shard by shard, a parent shard before
// its children: what Lambda's event source mapping does in AWS, for
// DynamoDB Local under `make run`. It keeps its position in a checkpoint
// file, so a restart goes on where it stopped (at least once: a record
// whose events were delivered just before a crash is delivered again, with
// the same eventId).
type Poller struct {
	Streams    StreamsAPI
	StreamARN  string
	Processor  *Processor
	Checkpoint string
	// Interval is the pause between polls when the stream is idle (default 200 ms).
	Interval time.Duration
	Log      *slog.Logger
}

// checkpoint is the poller's position: per shard the last handled
// sequence number, and the shards read to their end.
type checkpoint struct {
	StreamARN string            `json:"streamArn"`
	Shards    map[string]string `json:"shards"`
	Done      map[string]bool   `json:"done"`
}

func (p *Poller) load() checkpoint {
	cp := checkpoint{StreamARN: p.StreamARN, Shards: map[string]string{}, Done: map[string]bool{}}
	if p.Checkpoint == "" {
		return cp
	}
	b, err := os.ReadFile(p.Checkpoint)
	if err != nil {
		return cp
	}
	var saved checkpoint
	if json.Unmarshal(b, &saved) != nil || saved.StreamARN != p.StreamARN || saved.Shards == nil || saved.Done == nil {
		return cp // another stream (the table was made again): start over
	}
	return saved
}

func (p *Poller) save(cp checkpoint) error {
	if p.Checkpoint == "" {
		return nil
	}
	b, _ := json.Marshal(cp)
	tmp := p.Checkpoint + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Clean(p.Checkpoint))
}

// Run polls until ctx ends; failures are logged and retried on the next
// poll from the checkpoint.
func (p *Poller) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	cp := p.load()
	for {
		if _, err := p.poll(ctx, &cp); err != nil && ctx.Err() == nil {
			p.log().Error("events: polling the stream", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Poll reads and processes everything the stream holds after the
// checkpoint, once, and returns the number of records handled.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	cp := p.load()
	return p.poll(ctx, &cp)
}

func (p *Poller) poll(ctx context.Context, cp *checkpoint) (int, error) {
	var shards []streams.Shard
	var start *string
	for range 1000 {
		out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.StreamARN), ExclusiveStartShardId: start})
		if err != nil {
			return 0, err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	known := map[string]bool{}
	for _, s := range shards {
		known[aws.ToString(s.ShardId)] = true
	}
	total := 0
	// A child shard waits for its parent (if the stream still has it):
	// within a resource's key, that is the order of its writes.
	for progress := true; progress; {
		progress = false
		for _, s := range shards {
			id := aws.ToString(s.ShardId)
			parent := aws.ToString(s.ParentShardId)
			if cp.Done[id] || (parent != "" && known[parent] && !cp.Done[parent]) {
				continue
			}
			n, done, err := p.readShard(ctx, cp, id)
			total += n
			if err != nil {
				return total, err
			}
			if done {
				cp.Done[id] = true
				progress = true
				if err := p.save(*cp); err != nil {
					return total, err
				}
			}
		}
	}
	return total, nil
}

// readShard processes the shard's records after the checkpoint; done
// reports that the shard is closed and read to its end.
func (p *Poller) readShard(ctx context.Context, cp *checkpoint, shard string) (int, bool, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.StreamARN), ShardId: aws.String(shard),
		ShardIteratorType: streams.ShardIteratorTypeTrimHorizon}
	if seq := cp.Shards[shard]; seq != "" {
		in.ShardIteratorType, in.SequenceNumber = streams.ShardIteratorTypeAfterSequenceNumber, aws.String(seq)
	}
	it, err := p.Streams.GetShardIterator(ctx, in)
	if err != nil {
		return 0, false, err
	}
	iter, total := it.ShardIterator, 0
	for range 10000 {
		if iter == nil {
			return total, true, nil
		}
		page, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return total, false, err
		}
		recs, err := FromStreams(page.Records)
		if err != nil {
			return total, false, err
		}
		if len(recs) == 0 {
			return total, page.NextShardIterator == nil, nil
		}
		n, perr := p.Processor.Process(ctx, recs)
		if n > 0 {
			cp.Shards[shard] = recs[n-1].SequenceNumber
			total += n
			if err := p.save(*cp); err != nil {
				return total, false, err
			}
		}
		if perr != nil {
			return total, false, perr
		}
		iter = page.NextShardIterator
	}
	return total, false, nil
}

func (p *Poller) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}
