package filter

import "github.com/serverless-scim/serverless-scim/pkg/scim"

// Mentions returns how many comparisons of f (presence tests included, and
// those inside value filters) are on attribute a or its sub-attributes. A
// caller that supplies only part of an attribute's values for matching (a
// group's members, which are stored apart) compares it with the Required
// comparisons on a to know whether that part decides the match.
func (f *Filter) Mentions(a *scim.Attribute) int {
	if f == nil {
		return 0
	}
	var count func(n node) int
	count = func(n node) int {
		switch x := n.(type) {
		case *logic:
			c := 0
			for _, t := range x.terms {
				c += count(t)
			}
			return c
		case *not:
			return count(x.x)
		case *valuePath:
			return count(x.filter)
		case *cmp:
			if x.ref.Attr == a {
				return 1
			}
		}
		return 0
	}
	return count(f.root)
}
