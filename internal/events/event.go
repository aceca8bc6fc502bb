// Package events turns the table's stream into change events: every
// committed write of a resource becomes exactly one event (source
// serverless-scim, detail-type "User Created", "Group Members Added", …),
// published in the order of the resource's versions to an Amazon
// EventBridge bus, or locally
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

// The detail-types of group events. A group's members are not in its
// resource: they change by the member events, whose Detail.Members are the
// ids of the users added or removed.
const (
	GroupCreated        = "Group Created"
	GroupUpdated        = "Group Updated"
	GroupDeleted        = "Group Deleted"
	GroupMembersAdded   = "Group Members Added"
	GroupMembersRemoved = "Group Members Removed"
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
	// ResourceType is "User" or "Group".
	ResourceType string `json:"resourceType"`
	// ID is the resource's id.
	ID string `json:"id"`
	// Version is the version the change made (meta.version without W/"…").
	// It grows by one per write of the resource: consumers order and
	// deduplicate by it. One write of a group may make several events of
	// the same version (an update with its member changes, a create with
	// its first members, a delete with its last). A removal of a member
	// because the user was deleted has version 0: the group's version does
	// not move then.
	Version int64 `json:"version"`
	// OccurredAt is when the change was committed (meta.lastModified, or
	// the time of the delete), RFC 3339 with milliseconds.
	OccurredAt string `json:"occurredAt"`
	// EventID is the same for every delivery of this change: a hash of
	// tenant, resource type, id, version and detail-type (and, for a
	// removal by a user's delete, the user's id).
	EventID string `json:"eventId"`
	// ChangedAttributes names the attributes the change set or changed
	// (scim.ChangedAttributes: extension attributes as "<urn>:<name>",
	// "password" for a new password, never its value); empty for a delete.
	ChangedAttributes []string `json:"changedAttributes"`
	// UserName is the old and the new userName when the change renamed the
	// user (left out with the resource).
	UserName *ValueChange `json:"userName,omitempty"`
	// DisplayName is the old and the new displayName when the change
	// renamed the group (left out with the resource).
	DisplayName *ValueChange `json:"displayName,omitempty"`
	// Members are the ids of the users a member event added to the group
	// or removed from it, sorted; only on member events.
	Members []string `json:"members,omitempty"`
	// Resource is the resource as GET would return it (a group without its
	// members, which the member events carry); left out on deletes,
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
// More parts (extra) tell apart changes of one version and detail-type.
func EventID(tenant, resourceType, id string, version int64, detailType string, extra ...string) string {
	h := sha256.New()
	for _, p := range append([]string{tenant, resourceType, id, strconv.FormatInt(version, 10), detailType}, extra...) {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Mapper turns stream records into events.
type Mapper struct {
	// IncludeResource puts the resource (and a rename's old and new
	// userName or displayName) in every event but deletes. Off, events carry no personal
	// data: ids, versions, times and attribute names only.
	IncludeResource bool
	// BaseURL is the SCIM base URL (…/scim/v2), for meta.location of the
	// resource; "" leaves meta.location out.
	BaseURL string
}

// Map returns the events of one stream record, in order, or none when the
// record is no change of its own (see dynamo.StreamChanges) or changed
// nothing (a PUT of what was stored makes no event).
func (m Mapper) Map(rec Record) ([]*Event, error) {
	cs, err := dynamo.StreamChanges(rec.EventName, rec.Keys, rec.OldImage, rec.NewImage)
	if err != nil {
		return nil, err
	}
	var out []*Event
	for _, c := range cs {
		if c.At.IsZero() {
			c.At = rec.At
		}
		out = append(out, m.events(rec, c)...)
	}
	return out, nil
}

// events returns the events of one change: for a group, the resource's
// own event (none when only members changed), then the removals and the
// additions of members; a delete's removals come before the delete.
func (m Mapper) events(rec Record, c *dynamo.Change) []*Event {
	var own *Event
	if c.Deleted || (len(c.Changed) > 0 && !c.MemberDeleted) {
		own = m.event(rec, c, detailType(c))
	}
	var out []*Event
	if own != nil && !c.Deleted {
		out = append(out, own)
	}
	if len(c.MembersRemoved) > 0 {
		out = append(out, m.memberEvent(rec, c, GroupMembersRemoved, c.MembersRemoved))
	}
	if len(c.MembersAdded) > 0 {
		out = append(out, m.memberEvent(rec, c, GroupMembersAdded, c.MembersAdded))
	}
	if own != nil && c.Deleted {
		out = append(out, own)
	}
	return out
}

func (m Mapper) memberEvent(rec Record, c *dynamo.Change, dt string, members []string) *Event {
	ev := m.event(rec, c, dt)
	ev.Detail.ChangedAttributes = []string{"members"}
	ev.Detail.Members = members
	ev.Detail.UserName, ev.Detail.DisplayName = nil, nil
	if c.MemberDeleted {
		ev.Detail.EventID = EventID(c.Tenant, c.ResourceType, c.ID, c.Version, dt, members...)
	}
	return ev
}

func (m Mapper) event(rec Record, c *dynamo.Change, dt string) *Event {
	ev := &Event{DetailType: dt, SequenceNumber: rec.SequenceNumber}
	ev.Detail = Detail{
		Tenant: c.Tenant, ResourceType: c.ResourceType, ID: c.ID, Version: c.Version,
		OccurredAt:        scim.FormatTime(c.At),
		EventID:           EventID(c.Tenant, c.ResourceType, c.ID, c.Version, dt),
		ChangedAttributes: c.Changed,
	}
	if c.Changed == nil {
		ev.Detail.ChangedAttributes = []string{}
	}
	rt := resourceTypes[c.ResourceType]
	if m.IncludeResource && c.Next != nil && rt != nil {
		nameAttr := nameAttrs[c.ResourceType]
		name := func(r *scim.Resource) string { v, _ := r.Attrs[nameAttr].(string); return v }
		if c.Renamed || (c.Prev != nil && name(c.Prev) != name(c.Next)) {
			old := c.PrevName
			if c.Prev != nil {
				old = name(c.Prev)
			}
			vc := &ValueChange{Old: old, New: name(c.Next)}
			if c.ResourceType == scim.GroupResourceType.Name {
				ev.Detail.DisplayName = vc
			} else {
				ev.Detail.UserName = vc
			}
		}
		loc := ""
		if m.BaseURL != "" {
			loc = m.BaseURL + rt.Endpoint + "/" + c.ID
		}
		ev.Detail.Resource = rt.Render(c.Next, loc, rt.ParseProjection("", ""))
		if ev.size() > MaxEntryBytes {
			ev.Detail.Resource, ev.Detail.ResourceOmitted = nil, "tooLarge"
		}
	}
	return ev
}

var resourceTypes = map[string]*scim.ResourceType{
	scim.UserResourceType.Name:  scim.UserResourceType,
	scim.GroupResourceType.Name: scim.GroupResourceType,
}

// nameAttrs are the unique names of the resource types.
var nameAttrs = map[string]string{scim.UserResourceType.Name: "userName", scim.GroupResourceType.Name: "displayName"}

// detailType names what a change did. For users, deactivation and
// reactivation are the changes of active to false and back (an absent
// active counts as true, as the IdPs treat it); any other change is an
// update.
func detailType(c *dynamo.Change) string {
	if c.ResourceType == scim.GroupResourceType.Name {
		switch {
		case c.Deleted:
			return GroupDeleted
		case c.Prev == nil && !c.Renamed:
			return GroupCreated
		}
		return GroupUpdated
	}
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
