package main

import (
	"encoding/json"
	"os"
	"path/filepath"
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
