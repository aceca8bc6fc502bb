package scim

import "strings"

// Schema URNs of RFC 7643 and RFC 7644.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListResponseURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpURN       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	ErrorURN         = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Type is an attribute's data type (RFC 7643 §2.3).
type Type string

// The attribute data types of RFC 7643 §2.3.
const (
	TypeString    Type = "string"
	TypeBoolean   Type = "boolean"
	TypeDecimal   Type = "decimal"
	TypeInteger   Type = "integer"
	TypeDateTime  Type = "dateTime"
	TypeBinary    Type = "binary"
	TypeReference Type = "reference"
	TypeComplex   Type = "complex"
)

// Mutability says whether and how a client may change an attribute
// (RFC 7643 §7).
type Mutability string

// Mutability values of RFC 7643 §7.
const (
	ReadOnly  Mutability = "readOnly"
	ReadWrite Mutability = "readWrite"
	Immutable Mutability = "immutable"
	WriteOnly Mutability = "writeOnly"
)

// Returned says when an attribute is returned in a response (RFC 7643 §7).
type Returned string

// Returned values of RFC 7643 §7.
const (
	ReturnedAlways  Returned = "always"
	ReturnedNever   Returned = "never"
	ReturnedDefault Returned = "default"
	ReturnedRequest Returned = "request"
)

// Attribute describes one attribute or sub-attribute of a schema
// (RFC 7643 §7). Its JSON form is the one served by /Schemas.
type Attribute struct {
	Name            string       `json:"name"`
	Type            Type         `json:"type"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      Mutability   `json:"mutability"`
	Returned        Returned     `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
}

// Sub returns the sub-attribute called name, matched case-insensitively
// (attribute names are case-insensitive, RFC 7643 §2.1), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	return findAttr(a.SubAttributes, name)
}

// Schema is a resource schema or extension (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr returns the attribute called name, matched case-insensitively, or nil.
func (s *Schema) Attr(name string) *Attribute {
	return findAttr(s.Attributes, name)
}

func findAttr(list []*Attribute, name string) *Attribute {
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// attribute builders keep the schema tables below readable.
func str(name, desc string) *Attribute {
	return &Attribute{Name: name, Type: TypeString, Description: desc, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none"}
}

func (a *Attribute) typ(t Type) *Attribute       { a.Type = t; return a }
func (a *Attribute) multi() *Attribute           { a.MultiValued = true; return a }
func (a *Attribute) required() *Attribute        { a.Required = true; return a }
func (a *Attribute) exact() *Attribute           { a.CaseExact = true; return a }
func (a *Attribute) mut(m Mutability) *Attribute { a.Mutability = m; return a }
func (a *Attribute) ret(r Returned) *Attribute   { a.Returned = r; return a }
func (a *Attribute) unique() *Attribute          { a.Uniqueness = "server"; return a }
func (a *Attribute) canon(v ...string) *Attribute {
	a.CanonicalValues = v
	return a
}
func (a *Attribute) refs(v ...string) *Attribute { a.ReferenceTypes = v; return a }
func (a *Attribute) subs(s ...*Attribute) *Attribute {
	a.Type = TypeComplex
	a.SubAttributes = s
	return a
}

// multiValuedComplex is the value/display/type/primary shape RFC 7643 §2.4
// gives most multi-valued attributes.
func multiValuedComplex(name, desc string, valueType Type, types ...string) *Attribute {
	value := str("value", "The attribute's significant value.").typ(valueType)
	if valueType == TypeReference {
		// RFC 7643 §7: a reference names what it may refer to; photos are
		// external URLs (§8.7.1).
		value.refs("external")
	}
	typ := str("type", "A label indicating the attribute's function.")
	if len(types) > 0 {
		typ.canon(types...)
	}
	return str(name, desc).multi().subs(
		value,
		str("display", "A human-readable name, primarily used for display purposes."),
		typ,
		str("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.").typ(TypeBoolean),
	)
}

// User is the core User schema of RFC 7643 §4.1 (as represented in §8.7.1).
// The common attributes id, externalId and meta (RFC 7643 §3.1) are not part
// of it; see CommonAttributes.
var User = &Schema{
	ID:          UserSchema,
	Name:        "User",
	Description: "User Account",
	Attributes: []*Attribute{
		str("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Unique per tenant, compared case-insensitively.").required().unique(),
		str("name", "The components of the user's real name.").subs(
			str("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
			str("familyName", "The family name of the User, or last name in most Western languages."),
			str("givenName", "The given name of the User, or first name in most Western languages."),
			str("middleName", "The middle name(s) of the User."),
			str("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
			str("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
		),
		str("displayName", "The name of the User, suitable for display to end-users."),
		str("nickName", "The casual way to address the user in real life."),
		str("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.").typ(TypeReference).refs("external"),
		str("title", "The user's title, such as \"Vice President\"."),
		str("userType", "Used to identify the relationship between the organization and the user."),
		str("preferredLanguage", "Indicates the User's preferred written or spoken language (RFC 7231 Accept-Language format)."),
		str("locale", "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
		str("timezone", "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
		str("active", "A Boolean value indicating the User's administrative status.").typ(TypeBoolean),
		str("password", "The User's cleartext password. Write-only: stored only as a salted hash, never returned.").mut(WriteOnly).ret(ReturnedNever),
		multiValuedComplex("emails", "Email addresses for the user.", TypeString, "work", "home", "other"),
		multiValuedComplex("phoneNumbers", "Phone numbers for the User.", TypeString, "work", "home", "mobile", "fax", "pager", "other"),
		multiValuedComplex("ims", "Instant messaging addresses for the User.", TypeString, "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		multiValuedComplex("photos", "URLs of photos of the User.", TypeReference, "photo", "thumbnail"),
		str("addresses", "A physical mailing address for this User.").multi().subs(
			str("formatted", "The full mailing address, formatted for display or use with a mailing label."),
			str("streetAddress", "The full street address component."),
			str("locality", "The city or locality component."),
			str("region", "The state or region component."),
			str("postalCode", "The zip code or postal code component."),
			str("country", "The country name component."),
			str("type", "A label indicating the attribute's function.").canon("work", "home", "other"),
			str("primary", "A Boolean value indicating the 'primary' or preferred address.").typ(TypeBoolean),
		),
		str("groups", "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.").multi().mut(ReadOnly).subs(
			str("value", "The identifier of the User's group.").mut(ReadOnly),
			str("$ref", "The URI of the corresponding 'Group' resource.").typ(TypeReference).refs("User", "Group").mut(ReadOnly),
			str("display", "A human-readable name, primarily used for display purposes.").mut(ReadOnly),
			str("type", "A label indicating the attribute's function.").canon("direct", "indirect").mut(ReadOnly),
		),
		multiValuedComplex("entitlements", "A list of entitlements for the User that represent a thing the User has.", TypeString),
		multiValuedComplex("roles", "A list of roles for the User that collectively represent who the User is.", TypeString),
		multiValuedComplex("x509Certificates", "A list of certificates issued to the User.", TypeBinary),
	},
}

// Enterprise is the Enterprise User extension of RFC 7643 §4.3.
var Enterprise = &Schema{
	ID:          EnterpriseSchema,
	Name:        "EnterpriseUser",
	Description: "Enterprise User",
	Attributes: []*Attribute{
		str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
		str("costCenter", "Identifies the name of a cost center."),
		str("organization", "Identifies the name of an organization."),
		str("division", "Identifies the name of a division."),
		str("department", "Identifies the name of a department."),
		str("manager", "The User's manager.").subs(
			str("value", "The id of the SCIM resource representing the User's manager."),
			str("$ref", "The URI of the SCIM resource representing the User's manager.").typ(TypeReference).refs("User"),
			str("displayName", "The displayName of the User's manager.").mut(ReadOnly),
		),
	},
}

// CommonAttributes are the attributes every resource has (RFC 7643 §3.1).
// They are kept outside resource schemas, as RFC 7643 §8.7.1 does.
var CommonAttributes = []*Attribute{
	str("id", "A unique identifier for a SCIM resource as defined by the service provider.").exact().mut(ReadOnly).ret(ReturnedAlways).unique(),
	str("externalId", "An identifier for the resource as defined by the provisioning client.").exact(),
	str("meta", "A complex attribute containing resource metadata.").mut(ReadOnly).subs(
		str("resourceType", "The name of the resource type of the resource.").exact().mut(ReadOnly),
		str("created", "The DateTime that the resource was added to the service provider.").typ(TypeDateTime).mut(ReadOnly),
		str("lastModified", "The most recent DateTime that the details of this resource were updated at the service provider.").typ(TypeDateTime).mut(ReadOnly),
		str("location", "The URI of the resource being returned.").typ(TypeReference).refs("uri").exact().mut(ReadOnly),
		str("version", "The version of the resource being returned (an entity tag).").exact().mut(ReadOnly),
	),
}

// ResourceType describes a resource endpoint and its schemas (RFC 7643 §6).
type ResourceType struct {
	ID          string
	Name        string
	Endpoint    string
	Description string
	Schema      *Schema
	Extensions  []*Schema
}

// UserResourceType is the User resource type served at /Users.
var UserResourceType = &ResourceType{
	ID:          "User",
	Name:        "User",
	Endpoint:    "/Users",
	Description: "User Account",
	Schema:      User,
	Extensions:  []*Schema{Enterprise},
}

// Extension returns the extension schema whose URN is urn (case-insensitive).
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, s := range rt.Extensions {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

// CommonAttr returns the common attribute called name, or nil.
func CommonAttr(name string) *Attribute { return findAttr(CommonAttributes, name) }
