package filter_test

import (
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
	"github.com/serverless-scim/serverless-scim/pkg/scim/filter"
)

func TestMentions(t *testing.T) {
	t.Parallel()
	members := scim.Group.Attr("members")
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`displayName eq "x"`, 0},
		{`members eq "u"`, 1},
		{`id eq "g" and members eq "u"`, 1},
		{`members[value eq "u"]`, 1},
		{`members[value eq "u" or display co "x"]`, 2},
		{`not (members pr) and members.value eq "u"`, 2},
		{`displayName eq "members"`, 0},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := filter.Parse(scim.GroupResourceType, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Mentions(members); got != tc.want {
				t.Errorf("Mentions(members) = %d, want %d", got, tc.want)
			}
		})
	}
	var nilFilter *filter.Filter
	if nilFilter.Mentions(members) != 0 {
		t.Error("a nil filter mentions nothing")
	}
}
