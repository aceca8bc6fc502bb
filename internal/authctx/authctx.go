// Package authctx names the members of the context the TOKEN authorizer
// returns. API Gateway hands them to the integration as
// requestContext.authorizer.<name>, so internal/keys/authorizer (which
// writes them) and internal/gateway (which reads the tenant and logs the key
// id) must agree on them: this is their one definition. Values are flat
// strings, as API Gateway requires.
package authctx

const (
	// Tenant holds the tenant every storage access must be scoped to.
	Tenant = "tenant"
	// KeyID holds the id of the API key used (never the key), for logs.
	KeyID = "keyId"
)
