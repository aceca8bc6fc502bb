package scim

// Group schema URNs: the core Group schema of RFC 7643 §4.2, and the extra
// URN Microsoft Entra ID lists in the "schemas" of the groups it creates
// (it carries no attributes; Decode ignores it like any unknown URN).
const (
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EntraGroupSchema = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

// Group is the core Group schema of RFC 7643 §4.2 (as represented in
// §8.7.1). displayName is required and unique per tenant after Unicode case
// folding (scim.Fold), as userName is for users. members holds users only
// (no nested groups): "value" is the user's id, "$ref" its URI, "type"
// always "User", and "display" what the client sent. Sub-attributes are
// immutable (RFC 7643 §4.2): a member is added or removed, never changed.
// Members are stored apart from the group (GroupStore); a Resource's Attrs
// hold them only when a service put them there for a response.
var Group = &Schema{
	ID:          GroupSchema,
	Name:        "Group",
	Description: "Group",
	Attributes: []*Attribute{
		str("displayName", "A human-readable name for the Group. Required; unique per tenant, compared case-insensitively.").required().unique(),
		str("members", "A list of members of the Group: users of the same tenant.").multi().subs(
			str("value", "Identifier (id) of the member of this Group.").exact().mut(Immutable),
			str("$ref", "The URI corresponding to a SCIM resource that is a member of this Group.").typ(TypeReference).refs("User").mut(Immutable),
			str("display", "A human-readable name for the member, as the client sent it.").mut(Immutable),
			str("type", "A label indicating the type of resource, e.g., 'User'.").canon("User").mut(Immutable),
		),
	},
}

// GroupResourceType is the Group resource type served at /Groups
// (RFC 7643 §6, §8.7.2).
var GroupResourceType = &ResourceType{
	ID:          "Group",
	Name:        "Group",
	Endpoint:    "/Groups",
	Description: "Group",
	Schema:      Group,
}

// DisplayName returns the displayName attribute, or "".
func (r *Resource) DisplayName() string {
	s, _ := r.Attrs["displayName"].(string)
	return s
}

// Returns reports whether a response under p carries attribute a of the
// core schema (or a common attribute) at all, so that a service can skip
// reading what would not be shown (a group's members).
func (p Projection) Returns(a *Attribute) bool {
	return p.decide(nil, a).keep
}

// ResponseBudget is the most bytes a response body may take once Lambda's
// proxy integration has encoded it as a JSON string (Lambda returns at most
// 6 MB; the rest is room for headers and the envelope). A representation
// over it is sent with its multi-valued complex attributes (a group's
// members) reduced to {"value"}, or, if that is still over, without them
// (docs/ARCHITECTURE.md, "Limits"). It is a variable so that tests can lower
// it; it must not change while requests are served.
var ResponseBudget = 5_000_000
