package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serverless-scim/serverless-scim/internal/modroot"
)

// oktaBody returns the body of a recorded Okta request (events/okta).
func oktaBody(t *testing.T, name string) string {
	t.Helper()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", "okta", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Body
}

// With make run's program up, Okta's flow (create, PUT update, PUT
// active:false, PATCH reactivate, rename, DELETE) through the local API
// appends exactly those events, in that order, with increasing versions,
// to <data>/events.jsonl, in the form EventBridge delivers them.
func TestRunAppendsOktaFlowEvents(t *testing.T) {
	dataDir := t.TempDir()
	base, key, stop := start(t, dataDir)

	st, created := do(t, "POST", base+"/Users", key, oktaBody(t, "02-create-user.json"))
	if st != 201 {
		t.Fatalf("create: %d %s", st, created)
	}
	var u struct{ ID string }
	_ = json.Unmarshal([]byte(created), &u)
	user := base + "/Users/" + u.ID
	steps := []struct{ method, body string }{
		{"PUT", oktaBody(t, "06-put-update.json")},
		{"PUT", oktaBody(t, "06-put-update.json")}, // the same again: no change, no event
		{"PUT", oktaBody(t, "07-put-deactivate.json")},
		{"PATCH", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`},
		{"PUT", oktaBody(t, "11-put-rename.json")},
		{"DELETE", ""},
	}
	for _, s := range steps {
		if code, b := do(t, s.method, user, key, s.body); code >= 300 {
			t.Fatalf("%s: %d %s", s.method, code, b)
		}
	}

	want := []string{"User Created", "User Updated", "User Deactivated", "User Reactivated", "User Updated", "User Deleted"}
	path := filepath.Join(dataDir, "events.jsonl")
	var lines []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if lines = strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) >= len(want) {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // nothing more may come
	b, _ := os.ReadFile(path)
	lines = strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%s has %d lines, want %d:\n%s", path, len(lines), len(want), b)
	}
	for i, line := range lines {
		var ev struct {
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Detail     struct {
				Tenant, ResourceType, ID, OccurredAt, EventID string
				Version                                       int64
				ChangedAttributes                             []string
				UserName                                      *struct{ Old, New string }
				Resource                                      map[string]any
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		d := ev.Detail
		if ev.Source != "serverless-scim" || ev.DetailType != want[i] || d.Version != int64(i+1) || d.ID != u.ID ||
			d.Tenant != "default" || d.ResourceType != "User" || d.OccurredAt == "" || d.EventID == "" {
			t.Errorf("line %d = %s", i+1, line)
		}
		if (ev.DetailType == "User Deleted") != (d.Resource == nil) {
			t.Errorf("line %d: resource %v", i+1, d.Resource)
		}
		if strings.Contains(line, "argon2") {
			t.Errorf("line %d carries the password hash", i+1)
		}
	}
	if !strings.Contains(lines[4], `"userName":{"old":"jane.doe@example.com","new":"jane.smith@example.com"}`) {
		t.Errorf("the rename's event does not carry userName old and new:\n%s", lines[4])
	}

	// A restart goes on from its checkpoint: nothing is published twice.
	stop()
	_, _, stop = start(t, dataDir)
	defer stop()
	time.Sleep(1500 * time.Millisecond)
	if again, _ := os.ReadFile(path); string(again) != string(b) {
		t.Errorf("after a restart %s changed:\n%s", path, again)
	}
}

// entraBody returns the body of a recorded Entra request (events/entra),
// its sample user id replaced by userID.
func entraBody(t *testing.T, name, userID string) string {
	t.Helper()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", "entra", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(ev.Body, "2819c223-7f76-453a-919d-413861904646", userID)
}

// Entra's group push (create, add a member, the same add again, legacy
// remove, rename with the unchanged externalId, delete) through the local
// API appends exactly one event per change to <data>/events.jsonl, in
// version order, and none for the repeated add.
func TestRunAppendsEntraGroupEvents(t *testing.T) {
	dataDir := t.TempDir()
	base, key, stop := start(t, dataDir)
	defer stop()

	st, created := do(t, "POST", base+"/Users", key, oktaBody(t, "02-create-user.json"))
	if st != 201 {
		t.Fatalf("create user: %d %s", st, created)
	}
	var u struct{ ID string }
	_ = json.Unmarshal([]byte(created), &u)
	st, created = do(t, "POST", base+"/Groups", key, entraBody(t, "22-group-create.json", u.ID))
	if st != 201 {
		t.Fatalf("create group: %d %s", st, created)
	}
	var g struct{ ID string }
	_ = json.Unmarshal([]byte(created), &g)
	group := base + "/Groups/" + g.ID
	for _, s := range []struct{ method, body string }{
		{"PATCH", entraBody(t, "23-group-add-members.json", u.ID)},
		{"PATCH", entraBody(t, "23-group-add-members.json", u.ID)}, // a member already: no write, no event
		{"PATCH", entraBody(t, "25-group-legacy-remove.json", u.ID)},
		{"PATCH", entraBody(t, "26-group-rename.json", u.ID)},
		{"DELETE", ""},
	} {
		if code, b := do(t, s.method, group, key, s.body); code >= 300 {
			t.Fatalf("%s: %d %s", s.method, code, b)
		}
	}

	want := []string{"User Created v1", "Group Created v1", "Group Members Added v2 [" + u.ID + "]",
		"Group Members Removed v3 [" + u.ID + "]", "Group Updated v4 [displayName]", "Group Deleted v5"}
	path := filepath.Join(dataDir, "events.jsonl")
	var lines []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if lines = strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) >= len(want) {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // nothing more may come
	b, _ := os.ReadFile(path)
	lines = strings.Split(strings.TrimSpace(string(b)), "\n")
	var got []string
	for i, line := range lines {
		var ev struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				ID                string
				Version           int64
				ChangedAttributes []string
				Members           []string
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		s := ev.DetailType + " v" + strconv.FormatInt(ev.Detail.Version, 10)
		switch {
		case len(ev.Detail.Members) > 0:
			s += " [" + strings.Join(ev.Detail.Members, ",") + "]"
		case ev.DetailType == "Group Updated":
			s += " [" + strings.Join(ev.Detail.ChangedAttributes, ",") + "]"
		}
		if ev.Detail.ID != u.ID && ev.Detail.ID != g.ID {
			t.Errorf("line %d: id %s", i+1, ev.Detail.ID)
		}
		got = append(got, s)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(lines[4], `"displayName":{"old":"Sales Team","new":"Sales Team (EMEA)"}`) {
		t.Errorf("the rename's event does not carry displayName old and new:\n%s", lines[4])
	}
}
