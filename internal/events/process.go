package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Sink delivers events.
type Sink interface {
	// Put delivers evs in order. It returns how many of them, counted from
	// the first, are delivered (or safely kept for a redrive) and, when that
	// is not all, why: the caller retries from there.
	Put(ctx context.Context, evs []*Event) (int, error)
}

// Processor runs batches of stream records through a Mapper into a Sink.
type Processor struct {
	Mapper Mapper
	Sink   Sink
	// Poison keeps a record that cannot be mapped (a corrupt item) so that
	// it does not block its shard; nil fails the batch at that record.
	Poison func(ctx context.Context, rec Record, err error) error
	// Log receives one line per batch and per failure; nil discards.
	Log *slog.Logger
}

// Process maps recs, in order, and delivers their events. It returns how
// many records, from the first, are fully handled; when that is not all,
// the error says why and the caller (Lambda, through a batch item failure,
// or the poller) must retry from that record. Retried records publish the
// same events again (at least once, same eventId).
func (p *Processor) Process(ctx context.Context, recs []Record) (int, error) {
	var evs []*Event
	var from []int // from[i]: the index of the record of evs[i]
	for i, rec := range recs {
		mapped, err := p.Mapper.Map(rec)
		if err != nil {
			if p.Poison == nil {
				return p.deliver(ctx, evs, from, i, fmt.Errorf("events: record %s: %w", rec.SequenceNumber, err))
			}
			if perr := p.Poison(ctx, rec, err); perr != nil {
				return p.deliver(ctx, evs, from, i, perr)
			}
			p.log().Error("events: unmappable record kept in the dead-letter queue", "sequenceNumber", rec.SequenceNumber, "error", err)
			continue
		}
		for _, ev := range mapped {
			evs = append(evs, ev)
			from = append(from, i)
		}
	}
	return p.deliver(ctx, evs, from, len(recs), nil)
}

// deliver puts evs and returns how many records are handled: all up to
// upTo when every event is delivered, else up to the first undelivered
// event's record.
func (p *Processor) deliver(ctx context.Context, evs []*Event, from []int, upTo int, cause error) (int, error) {
	if len(evs) > 0 {
		n, err := p.Sink.Put(ctx, evs)
		if n < len(evs) {
			if err == nil {
				err = errors.New("events: sink delivered only part of the batch")
			}
			p.log().Error("events: delivery failed; the batch is retried from the failed record", "delivered", n, "of", len(evs), "error", err)
			return from[n], err
		}
	}
	if cause != nil {
		p.log().Error("events: batch stopped", "error", cause)
	}
	return upTo, cause
}

func (p *Processor) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// Delivered is an event in the form EventBridge delivers it to a rule's
// target; FileSink writes this form, one per line.
type Delivered struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     Detail   `json:"detail"`
}

// Delivery returns ev as EventBridge would deliver it (its id is the
// event's eventId; EventBridge gives its own).
func (ev *Event) Delivery(account, region string) Delivered {
	return Delivered{Version: "0", ID: ev.Detail.EventID, DetailType: ev.DetailType, Source: Source,
		Account: account, Time: ev.occurredAt().UTC().Format(time.RFC3339), Region: region,
		Resources: []string{}, Detail: ev.Detail}
}

// FileSink appends each event, as EventBridge would deliver it, as one JSON
// line to a file: the local stand-in for the bus (`make run` writes
// .data/events.jsonl).
type FileSink struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenFileSink opens (creating it if needed) the file to append to.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &FileSink{f: f, path: path}, nil
}

// Put appends evs, one line each, and syncs the file.
func (s *FileSink) Put(_ context.Context, evs []*Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ev := range evs {
		line, err := json.Marshal(ev.Delivery("000000000000", "local"))
		if err != nil {
			return i, err
		}
		if _, err := s.f.Write(append(line, '\n')); err != nil {
			return i, err
		}
	}
	return len(evs), s.f.Sync()
}

// Close closes the file.
func (s *FileSink) Close() error { return s.f.Close() }
