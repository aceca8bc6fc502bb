// Package events turns the table's stream into change events: every
// committed write of a resource becomes exactly one event (source
// serverless-scim, detail-type "User Created", …), published in the order
// of the resource's versions to an Amazon EventBridge bus, or locally
// appended to a JSON-lines file. docs/events.md describes the events for the
// applications that consume them.
//
// The pieces: Mapper turns a stream Record into an Event (through
// dynamo.StreamChange, which knows the table's layout); Processor runs a
// batch of records through a Mapper into a Sink; Publisher is the
// EventBridge Sink, with retries and an SQS dead-letter queue, and Redrive
// publishes what landed there; FileSink is the local one; Poller reads the
// stream of DynamoDB Local for `make run`. The Lambda function
// (functions/events) and the local API run the same Processor.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/store/dynamo"
	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

// Source is the source of every event.
const Source = "serverless-scim"

// The detail-types of user events.
const (
	UserCreated     = "User Created"
	UserUpdated     = "User Updated"
	UserDeactivated = "User Deactivated"
	UserReactivated = "User Reactivated"
	UserDeleted     = "User Deleted"
)

// MaxEntryBytes is the largest event EventBridge accepts (256 KB, counted
// over source, detail-type, detail and time). An event whose resource would
// make it larger is published without the resource (Detail.ResourceOmitted).
const MaxEntryBytes = 256 * 1024

// Event is one change event, as put on the bus.
type Event struct {
	// DetailType is one of the detail-type constants.
	DetailType string `json:"detailType"`
	// Detail is the event's detail.
	Detail Detail `json:"detail"`
	// SequenceNumber is the stream record the event came from (not published).
	SequenceNumber string `json:"sequenceNumber,omitempty"`
}

// Detail is the detail of an event. Its JSON form is the contract with
// consumers (docs/events.md).
type Detail struct {
	// Tenant owns the resource.
	Tenant string `json:"tenant"`
	// ResourceType is "User".
	ResourceType string `json:"resourceType"`
	// ID is the resource's id.
	ID string `json:"id"`
	// Version is the version the change made (meta.version without W/"…").
	// It grows by one per write of the resource: consumers order and
	// deduplicate by it.
	Version int64 `json:"version"`
	// OccurredAt is when the change was committed (meta.lastModified, or
	// the time of the delete), RFC 3339 with milliseconds.
	OccurredAt string `json:"occurredAt"`
	// EventID is the same for every delivery of this change: a hash of
	// tenant, resource type, id, version and detail-type.
	EventID string `json:"eventId"`
	// ChangedAttributes names the attributes the change set or changed
	// (scim.ChangedAttributes: extension attributes as "<urn>:<name>",
	// "password" for a new password, never its value); empty for a delete.
	ChangedAttributes []string `json:"changedAttributes"`
	// UserName is the old and the new userName when the change renamed the
	// user (left out with the resource).
	UserName *ValueChange `json:"userName,omitempty"`
	// Resource is the resource as GET would return it; left out on deletes,
	// when the stack is configured to keep personal data off the bus, and
	// when the event would exceed MaxEntryBytes.
	Resource json.RawMessage `json:"resource,omitempty"`
	// ResourceOmitted says why Resource is missing although it is
	// configured: "tooLarge".
	ResourceOmitted string `json:"resourceOmitted,omitempty"`
}

// ValueChange is an attribute's value before and after a change.
type ValueChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// EventID returns the stable id of a change: the same inputs, the same id,
// however often the change is delivered.
func EventID(tenant, resourceType, id string, version int64, detailType string) string {
	h := sha256.New()
	for _, p := range []string{tenant, resourceType, id, strconv.FormatInt(version, 10), detailType} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Mapper turns stream records into events.
type Mapper struct {
	// IncludeResource puts the resource (and a rename's old and new
	// userName) in every event but deletes. Off, events carry no personal
	// data: ids, versions, times and attribute names only.
	IncludeResource bool
	// BaseURL is the SCIM base URL (…/scim/v2), for meta.location of the
	// resource; "" leaves meta.location out.
	BaseURL string
}

// Map returns the event of one stream record, or nil when the record is no
// change of its own (see dynamo.StreamChange) or changed nothing (a PUT of
// what was stored makes no event).
func (m Mapper) Map(rec Record) (*Event, error) {
	c, err := dynamo.StreamChange(rec.EventName, rec.Keys, rec.OldImage, rec.NewImage)
	if err != nil || c == nil {
		return nil, err
	}
	if !c.Deleted && len(c.Changed) == 0 {
		return nil, nil
	}
	ev := &Event{DetailType: detailType(c), SequenceNumber: rec.SequenceNumber}
	ev.Detail = Detail{
		Tenant: c.Tenant, ResourceType: c.ResourceType, ID: c.ID, Version: c.Version,
		OccurredAt:        scim.FormatTime(c.At),
		EventID:           EventID(c.Tenant, c.ResourceType, c.ID, c.Version, ev.DetailType),
		ChangedAttributes: c.Changed,
	}
	if c.Changed == nil {
		ev.Detail.ChangedAttributes = []string{}
	}
	if m.IncludeResource && c.Next != nil {
		if c.Renamed || (c.Prev != nil && c.Prev.UserName() != c.Next.UserName()) {
			old := c.PrevName
			if c.Prev != nil {
				old = c.Prev.UserName()
			}
			ev.Detail.UserName = &ValueChange{Old: old, New: c.Next.UserName()}
		}
		rt := resourceTypes[c.ResourceType]
		loc := ""
		if m.BaseURL != "" {
			loc = m.BaseURL + rt.Endpoint + "/" + c.ID
		}
		ev.Detail.Resource = rt.Render(c.Next, loc, rt.ParseProjection("", ""))
		if ev.size() > MaxEntryBytes {
			ev.Detail.Resource, ev.Detail.ResourceOmitted = nil, "tooLarge"
		}
	}
	return ev, nil
}

var resourceTypes = map[string]*scim.ResourceType{scim.UserResourceType.Name: scim.UserResourceType}

// detailType names what a change did. Deactivation and reactivation are
// the changes of active to false and back (an absent active counts as
// true, as the IdPs treat it); any other change is an update.
func detailType(c *dynamo.Change) string {
	switch {
	case c.Deleted:
		return UserDeleted
	case c.Prev == nil && !c.Renamed:
		return UserCreated
	}
	changedActive := false
	for _, a := range c.Changed {
		if a == "active" {
			changedActive = true
		}
	}
	now := active(c.Next)
	was := !now // a rename's item says active changed, not from what
	if c.Prev != nil {
		was = active(c.Prev)
	}
	switch {
	case changedActive && was && !now:
		return UserDeactivated
	case changedActive && !was && now:
		return UserReactivated
	}
	return UserUpdated
}

func active(r *scim.Resource) bool {
	a, ok := r.Attrs["active"].(bool)
	return !ok || a
}

// size is the event's size as EventBridge counts it.
func (e *Event) size() int {
	d, _ := json.Marshal(e.Detail)
	return len(Source) + len(e.DetailType) + len(d) + 14 // time
}

// occurredAt parses Detail.OccurredAt.
func (e *Event) occurredAt() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.Detail.OccurredAt)
	return t
}
