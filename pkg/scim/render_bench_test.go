package scim_test

import (
	"testing"

	"github.com/serverless-scim/serverless-scim/pkg/scim"
)

func benchUser() *scim.Resource {
	return &scim.Resource{
		ID: "2819c223-7f76-453a-919d-413861904646",
		Attrs: map[string]any{
			"userName": "bjensen@example.com", "externalId": "701984", "displayName": "Babs Jensen", "active": true,
			"name":                map[string]any{"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen, III"},
			"emails":              []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}, map[string]any{"value": "babs@jensen.org", "type": "home"}},
			scim.EnterpriseSchema: map[string]any{"employeeNumber": "701984", "department": "Tour Operations", "manager": map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
		},
		Meta: scim.Meta{ResourceType: "User", Version: 3},
	}
}

func BenchmarkRender(b *testing.B) {
	r := benchUser()
	p := scim.UserResourceType.ParseProjection("", "")
	b.ReportAllocs()
	for b.Loop() {
		_ = scim.UserResourceType.Render(r, "https://example.com/scim/v2/Users/"+r.ID, p)
	}
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2","userName":"Test_User@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1234","department":"Sales"}}`)
	b.ReportAllocs()
	for b.Loop() {
		m, err := scim.ParseJSONObject(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := scim.UserResourceType.Decode(m); err != nil {
			b.Fatal(err)
		}
	}
}
